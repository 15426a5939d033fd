//! Memberships: which operators belong to an organization, with which role. Owners and
//! admins manage them; only an owner grants, changes or removes the owner role; the last
//! owner can be neither demoted nor removed.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::access::{AdminAccess, suspended};
use super::audit::{self, Change};
use super::operators::{MembershipSummary, find_or_invite, invite_payload};
use super::organizations;
use super::roles::{Permission, Role};
use crate::notify::outbox::{self, Email};
use crate::platform::clock::{Millis, rfc3339};
use crate::platform::db::Tx;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::one_time::{self, Purpose};
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;

/// How long an invitation can be accepted.
pub const INVITE_TTL_SECS: i64 = 7 * 24 * 3600;

pub async fn insert(
    tx: &mut Tx,
    org_id: &str,
    operator_id: &str,
    role: Role,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO memberships (organization_id, operator_id, role, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(org_id.to_string())
    .bind(operator_id.to_string())
    .bind(role.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct MembershipRow {
    organization_id: String,
    organization_name: String,
    role: String,
    suspended_at: Option<i64>,
}

pub async fn of_operator(
    db: &crate::platform::db::Db,
    operator_id: &str,
) -> Result<Vec<MembershipSummary>, sqlx::Error> {
    let rows: Vec<MembershipRow> = sqlx::query_as(
        "SELECT m.organization_id, o.name AS organization_name, m.role, o.suspended_at \
         FROM memberships m JOIN organizations o ON o.id = m.organization_id \
         WHERE m.operator_id = $1 ORDER BY o.name, m.organization_id",
    )
    .bind(operator_id.to_string())
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(MembershipSummary {
                role: Role::parse(&r.role)?,
                organization_id: r.organization_id,
                organization_name: r.organization_name,
                status: if r.suspended_at.is_some() {
                    "suspended"
                } else {
                    "active"
                }
                .into(),
            })
        })
        .collect())
}

/// The organization an operator acts in, and their role there. `wanted` is the
/// `X-Organization` header; without it the operator's only organization is used.
pub async fn operator_role(
    state: &AppState,
    operator_id: &str,
    wanted: Option<&str>,
) -> ApiResult<(String, Role)> {
    let memberships = of_operator(&state.db, operator_id).await?;
    let chosen = match wanted {
        Some(org_id) => memberships
            .into_iter()
            .find(|m| m.organization_id == org_id)
            .ok_or_else(|| ApiError::not_found("organization"))?,
        None => {
            let mut memberships = memberships;
            match memberships.len() {
                1 => memberships.remove(0),
                0 => {
                    return Err(ApiError::forbidden_code(
                        "no_organization",
                        "this operator belongs to no organization",
                    ));
                }
                _ => {
                    return Err(ApiError::bad_request(
                        "organization_required",
                        "this operator belongs to several organizations; name one with X-Organization",
                    ));
                }
            }
        }
    };
    if chosen.status == "suspended" {
        return Err(suspended());
    }
    Ok((chosen.organization_id, chosen.role))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Member {
    pub operator_id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// `active`, or `invited` until the invitation is accepted.
    pub status: String,
    pub created_at: String,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    operator_id: String,
    email: String,
    name: String,
    role: String,
    password_hash: Option<String>,
    created_at: i64,
}

impl MemberRow {
    fn into_member(self) -> Member {
        Member {
            status: if self.password_hash.is_some() {
                "active"
            } else {
                "invited"
            }
            .into(),
            role: Role::parse(&self.role).unwrap_or(Role::Viewer),
            operator_id: self.operator_id,
            email: self.email,
            name: self.name,
            created_at: rfc3339(self.created_at),
        }
    }

    fn audit_json(&self) -> serde_json::Value {
        json!({ "operator_id": self.operator_id, "email": self.email, "role": self.role })
    }
}

const MEMBER_SELECT: &str = "SELECT m.operator_id, p.email, p.name, m.role, p.password_hash, \
                             m.created_at FROM memberships m JOIN operators p ON p.id = m.operator_id";

async fn find_member(tx: &mut Tx, org_id: &str, operator_id: &str) -> ApiResult<MemberRow> {
    let row: Option<MemberRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{MEMBER_SELECT} WHERE m.organization_id = $1 AND m.operator_id = $2"
    )))
    .bind(org_id.to_string())
    .bind(operator_id.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    row.ok_or_else(|| ApiError::not_found("member"))
}

/// The organization's members.
#[utoipa::path(
    get, path = "/admin/members", tag = "members",
    params(PageParams),
    responses((status = 200, body = Page<Member>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<Member>>> {
    access.require(Permission::ReadOrganization)?;
    let page = page.parse()?;
    let rows: Vec<MemberRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{MEMBER_SELECT} WHERE m.organization_id = $1 AND ($2 = '' OR m.operator_id < $2) \
         ORDER BY m.operator_id DESC LIMIT $3"
    )))
    .bind(access.org_id.clone())
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&state.db.pool)
    .await?;
    Ok(ApiJson(
        page.finish(rows, |r| &r.operator_id)
            .map(MemberRow::into_member),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    pub email: String,
    pub role: Role,
}

fn check_may_grant(access: &AdminAccess, role: Role) -> ApiResult<()> {
    if role == Role::Owner && access.role != Role::Owner {
        return Err(ApiError::forbidden(
            "only an owner may grant, change or remove the owner role",
        ));
    }
    Ok(())
}

/// Add an operator by email. Someone without an account is invited: they get an email with
/// a token to accept at `/admin/auth/accept-invite`.
#[utoipa::path(
    post, path = "/admin/members", tag = "members",
    request_body = AddMember,
    responses(
        (status = 201, body = Member),
        (status = 403, description = "Not allowed to add members or to grant this role", body = Problem),
        (status = 409, description = "Already a member (`already_member`)", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn add(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiJson(body): ApiJson<AddMember>,
) -> ApiResult<(StatusCode, ApiJson<Member>)> {
    access.require(Permission::ManageMembers)?;
    check_may_grant(&access, body.role)?;
    let email = validate::email("email", &body.email)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let org = organizations::find_in(&state.db, &mut tx, &access.org_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let (operator_id, invited) = find_or_invite(&mut tx, &email, now).await?;
    let already: Option<String> = sqlx::query_scalar(
        "SELECT role FROM memberships WHERE organization_id = $1 AND operator_id = $2",
    )
    .bind(access.org_id.clone())
    .bind(operator_id.clone())
    .fetch_optional(&mut *tx)
    .await?;
    if already.is_some() {
        return Err(ApiError::conflict(
            "already_member",
            "this operator is already a member",
        ));
    }
    insert(&mut tx, &access.org_id, &operator_id, body.role, now).await?;
    let needs_invite: bool = invited
        || sqlx::query_scalar::<_, Option<String>>(
            "SELECT password_hash FROM operators WHERE id = $1",
        )
        .bind(operator_id.clone())
        .fetch_one(&mut *tx)
        .await?
        .is_none();
    if needs_invite {
        let token = one_time::create(
            &mut tx,
            Purpose::OperatorInvite,
            &operator_id,
            None,
            INVITE_TTL_SECS,
            now,
        )
        .await?;
        outbox::enqueue(
            &mut tx,
            Email {
                organization_id: Some(&access.org_id),
                template: "operator_invite",
                locale: &org.locale,
                to: &email,
                payload: invite_payload(&token, &org.name),
            },
            now,
        )
        .await?;
    }
    let member = find_member(&mut tx, &access.org_id, &operator_id).await?;
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "member.added",
            target_kind: "operator",
            target_id: &operator_id,
            before: None,
            after: Some(member.audit_json()),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(member.into_member())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    pub role: Role,
}

async fn owner_count(tx: &mut Tx, org_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM memberships WHERE organization_id = $1 AND role = 'owner'",
    )
    .bind(org_id.to_string())
    .fetch_one(&mut **tx)
    .await
}

fn last_owner() -> ApiError {
    ApiError::rule(
        "last_owner",
        "an organization needs an owner: make someone else owner first",
    )
}

/// Change a member's role.
#[utoipa::path(
    patch, path = "/admin/members/{operator_id}", tag = "members",
    params(("operator_id" = String, Path)),
    request_body = ChangeRole,
    responses(
        (status = 200, body = Member),
        (status = 404, body = Problem),
        (status = 422, description = "Would leave no owner (`last_owner`)", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn change_role(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(operator_id): Path<String>,
    ApiJson(body): ApiJson<ChangeRole>,
) -> ApiResult<ApiJson<Member>> {
    access.require(Permission::ManageMembers)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    organizations::find_in(&state.db, &mut tx, &access.org_id).await?;
    let before = find_member(&mut tx, &access.org_id, &operator_id).await?;
    let current = Role::parse(&before.role).unwrap_or(Role::Viewer);
    check_may_grant(&access, current)?;
    check_may_grant(&access, body.role)?;
    if current == Role::Owner
        && body.role != Role::Owner
        && owner_count(&mut tx, &access.org_id).await? <= 1
    {
        return Err(last_owner());
    }
    sqlx::query(
        "UPDATE memberships SET role = $1, updated_at = $2 \
         WHERE organization_id = $3 AND operator_id = $4",
    )
    .bind(body.role.as_str())
    .bind(now)
    .bind(access.org_id.clone())
    .bind(operator_id.clone())
    .execute(&mut *tx)
    .await?;
    let after = find_member(&mut tx, &access.org_id, &operator_id).await?;
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "member.role_changed",
            target_kind: "operator",
            target_id: &operator_id,
            before: Some(before.audit_json()),
            after: Some(after.audit_json()),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ApiJson(after.into_member()))
}

/// Remove a member from the organization (their account stays).
#[utoipa::path(
    delete, path = "/admin/members/{operator_id}", tag = "members",
    params(("operator_id" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, body = Problem),
        (status = 422, description = "The last owner (`last_owner`)", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn remove(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(operator_id): Path<String>,
) -> ApiResult<StatusCode> {
    access.require(Permission::ManageMembers)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    organizations::find_in(&state.db, &mut tx, &access.org_id).await?;
    let before = find_member(&mut tx, &access.org_id, &operator_id).await?;
    let current = Role::parse(&before.role).unwrap_or(Role::Viewer);
    check_may_grant(&access, current)?;
    if current == Role::Owner && owner_count(&mut tx, &access.org_id).await? <= 1 {
        return Err(last_owner());
    }
    sqlx::query("DELETE FROM memberships WHERE organization_id = $1 AND operator_id = $2")
        .bind(access.org_id.clone())
        .bind(operator_id.clone())
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "member.removed",
            target_kind: "operator",
            target_id: &operator_id,
            before: Some(before.audit_json()),
            after: None,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
