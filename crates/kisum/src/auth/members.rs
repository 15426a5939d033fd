//! Memberships: a user's place in a company, with a tenant role and the modules and
//! permissions granted to it. Delegation: a member changes only what it may grant (the part
//! of another member's grants inside its own grantable set) and only for members its role
//! manages; every change bumps the membership's `accessVersion`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

use super::access::{EffectiveAccess, Member};
use super::roles::Role;
use super::users;
use crate::core::catalog::Catalog;
use crate::ids::{CompanyId, UserId};
use crate::platform::clock::Millis;
use crate::platform::db::Tx;
use crate::platform::error::{ApiError, ApiResult, Problem, is_unique_violation};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::state::AppState;

// ---- Store ----

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MembershipRow {
    pub id: String,
    pub user_id: String,
    pub role: String,
    pub access_version: i64,
}

impl MembershipRow {
    pub fn role(&self) -> Role {
        Role::parse(&self.role).unwrap_or(Role::User)
    }
}

pub async fn find(
    conn: &mut AnyConnection,
    company: &CompanyId,
    user: &UserId,
) -> Result<Option<MembershipRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, user_id, role, access_version FROM memberships \
         WHERE company_id = $1 AND user_id = $2",
    )
    .bind(company.as_str())
    .bind(user.as_str())
    .fetch_optional(conn)
    .await
}

pub async fn insert(
    tx: &mut Tx,
    user: &UserId,
    company: &CompanyId,
    role: Role,
    now: Millis,
) -> ApiResult<String> {
    let id = new_id();
    let inserted = sqlx::query(
        "INSERT INTO memberships (id, user_id, company_id, role, access_version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 1, $5, $5)",
    )
    .bind(&id)
    .bind(user.as_str())
    .bind(company.as_str())
    .bind(role.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await;
    match inserted {
        Err(err) if is_unique_violation(&err) => Err(ApiError::conflict(
            "already_a_member",
            "this user is already a member of the company",
        )),
        other => other.map(|_| id).map_err(Into::into),
    }
}

pub async fn grants_of(
    conn: &mut AnyConnection,
    membership: &str,
) -> Result<(Vec<String>, Vec<String>), sqlx::Error> {
    let modules = sqlx::query_scalar(
        "SELECT module FROM membership_modules WHERE membership_id = $1 ORDER BY module",
    )
    .bind(membership)
    .fetch_all(&mut *conn)
    .await?;
    let permissions = sqlx::query_scalar(
        "SELECT permission FROM membership_permissions WHERE membership_id = $1 ORDER BY permission",
    )
    .bind(membership)
    .fetch_all(&mut *conn)
    .await?;
    Ok((modules, permissions))
}

/// Replaces the membership's grants and bumps its access version.
pub async fn set_grants(
    tx: &mut Tx,
    membership: &str,
    modules: &[String],
    permissions: &[String],
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM membership_modules WHERE membership_id = $1")
        .bind(membership)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM membership_permissions WHERE membership_id = $1")
        .bind(membership)
        .execute(&mut **tx)
        .await?;
    for module in modules {
        sqlx::query("INSERT INTO membership_modules (membership_id, module) VALUES ($1, $2)")
            .bind(membership)
            .bind(module)
            .execute(&mut **tx)
            .await?;
    }
    for permission in permissions {
        sqlx::query(
            "INSERT INTO membership_permissions (membership_id, permission) VALUES ($1, $2)",
        )
        .bind(membership)
        .bind(permission)
        .execute(&mut **tx)
        .await?;
    }
    bump_access_version(tx, membership, now).await
}

pub async fn bump_access_version(
    tx: &mut Tx,
    membership: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE memberships SET access_version = access_version + 1, updated_at = $2 WHERE id = $1",
    )
    .bind(membership)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

// ---- Rules ----

fn delegation_denied(detail: impl Into<String>) -> ApiError {
    ApiError::forbidden_code("delegation_denied", detail)
}

/// The grants a member ends up with when `actor` asks for `modules` (None: leave modules
/// alone) and `permissions`: what lies outside the actor's grantable set is kept as it was;
/// inside it, the request replaces it. Refused when the actor may not manage the target,
/// asks for something it may not grant, or (a manager, who grants permissions only) names
/// modules.
pub fn apply_grants(
    catalog: &Catalog,
    actor: &EffectiveAccess,
    target_role: Role,
    current: (&[String], &[String]),
    modules: Option<&[String]>,
    permissions: &[String],
) -> ApiResult<(Vec<String>, Vec<String>)> {
    let role = actor.tenant_role;
    if !role.can_manage_users() || !role.manages(target_role) {
        return Err(delegation_denied(format!(
            "a {} cannot change the grants of a {}",
            role.as_str(),
            target_role.as_str()
        )));
    }
    let grantable = &actor.delegation;
    let new_modules: Vec<String> = match modules {
        None => current.0.to_vec(),
        Some(requested) if !role.can_grant_modules() => {
            if !requested.is_empty() {
                return Err(delegation_denied(
                    "a manager grants permissions only, not modules",
                ));
            }
            current.0.to_vec()
        }
        Some(requested) => {
            for m in requested {
                if catalog.module(m).is_none() {
                    return Err(ApiError::rule("unknown_module", format!("no module {m:?}")));
                }
                if !grantable.grantable_modules.contains(m) {
                    return Err(ApiError::rule(
                        "not_grantable",
                        format!("you may not grant the {m} module"),
                    ));
                }
            }
            let mut kept: Vec<String> = current
                .0
                .iter()
                .filter(|m| !grantable.grantable_modules.contains(m))
                .cloned()
                .collect();
            kept.extend(requested.iter().cloned());
            kept.sort();
            kept.dedup();
            kept
        }
    };
    for p in permissions {
        let Some(perm) = catalog.permission(p) else {
            return Err(ApiError::rule(
                "unknown_permission",
                format!("no permission {p:?}"),
            ));
        };
        if !grantable.grantable_permissions.contains(p) {
            return Err(ApiError::rule(
                "not_grantable",
                format!("you may not grant {p}"),
            ));
        }
        if !new_modules.contains(&perm.module) {
            return Err(ApiError::rule(
                "permission_outside_modules",
                format!("{p} needs the {} module granted too", perm.module),
            ));
        }
    }
    let mut new_permissions: Vec<String> = current
        .1
        .iter()
        .filter(|p| !grantable.grantable_permissions.contains(p))
        .cloned()
        .collect();
    new_permissions.extend(permissions.iter().cloned());
    new_permissions.sort();
    new_permissions.dedup();
    Ok((new_modules, new_permissions))
}

// ---- Handlers ----

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub modules: Vec<String>,
    pub permissions: Vec<String>,
    pub access_version: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    pub members: Vec<MemberView>,
}

fn require_manager(member: &Member) -> ApiResult<()> {
    if member.delegation.can_manage_users {
        Ok(())
    } else {
        Err(delegation_denied("your role cannot manage members"))
    }
}

async fn view(
    conn: &mut AnyConnection,
    company: &CompanyId,
    user: &UserId,
) -> ApiResult<MemberView> {
    let row = find(conn, company, user)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))?;
    let person = users::by_id(conn, user)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))?;
    let (modules, permissions) = grants_of(conn, &row.id).await?;
    Ok(MemberView {
        user_id: row.user_id.clone(),
        email: person.email,
        name: person.name,
        role: row.role(),
        modules,
        permissions,
        access_version: row.access_version,
    })
}

/// The company's members with their grants (members who manage users only).
#[utoipa::path(get, path = "/auth/members", tag = "members",
    params(("x-org" = String, Header)),
    responses((status = 200, body = MemberList), (status = 403, description = "`delegation_denied`", body = Problem)),
    security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, member: Member) -> ApiResult<ApiJson<MemberList>> {
    require_manager(&member)?;
    let mut conn = state.db.pool.acquire().await?;
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT user_id FROM memberships WHERE company_id = $1 ORDER BY created_at, user_id",
    )
    .bind(member.company_id.as_str())
    .fetch_all(&mut *conn)
    .await?;
    let mut members = Vec::with_capacity(ids.len());
    for id in ids {
        members.push(view(&mut conn, &member.company_id, &UserId::from(id)).await?);
    }
    Ok(ApiJson(MemberList { members }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddMember {
    /// The email of an existing Kisum user.
    pub email: String,
    pub role: Role,
    #[serde(default)]
    pub modules: Vec<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// Adds an existing user to the company with a role and grants the caller may give.
#[utoipa::path(post, path = "/auth/members", tag = "members", request_body = AddMember,
    params(("x-org" = String, Header)),
    responses((status = 201, body = MemberView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "`already_a_member`", body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn add(
    State(state): State<AppState>,
    member: Member,
    ApiJson(body): ApiJson<AddMember>,
) -> ApiResult<(StatusCode, ApiJson<MemberView>)> {
    require_manager(&member)?;
    let (modules, permissions) = apply_grants(
        &state.catalog,
        &member,
        body.role,
        (&[], &[]),
        Some(&body.modules),
        &body.permissions,
    )?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let user = users::by_email(&mut tx, &body.email.trim().to_lowercase())
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    let membership = insert(&mut tx, &user.id, &member.company_id, body.role, now).await?;
    set_grants(&mut tx, &membership, &modules, &permissions, now).await?;
    let added = view(&mut tx, &member.company_id, &user.id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(added)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetGrants {
    /// The modules to grant, within what you may grant (absent: modules stay as they are).
    pub modules: Option<Vec<String>>,
    /// The permissions to grant, within what you may grant.
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// Sets a member's grants within what the caller may grant; grants outside the caller's
/// grantable set stay as they were.
#[utoipa::path(put, path = "/auth/members/{userId}/grants", tag = "members", request_body = SetGrants,
    params(("x-org" = String, Header), ("userId" = String, Path)),
    responses((status = 200, body = MemberView), (status = 403, description = "`delegation_denied`", body = Problem),
        (status = 404, body = Problem), (status = 422, description = "`not_grantable`, `unknown_module`, `unknown_permission`, `permission_outside_modules`", body = Problem)),
    security(("bearer" = [])))]
pub async fn set(
    State(state): State<AppState>,
    member: Member,
    Path(user): Path<UserId>,
    ApiJson(body): ApiJson<SetGrants>,
) -> ApiResult<ApiJson<MemberView>> {
    require_manager(&member)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let target = sqlx::query_as::<_, MembershipRow>(state.db.sql(format!(
        "SELECT id, user_id, role, access_version FROM memberships \
         WHERE company_id = $1 AND user_id = $2{}",
        state.db.for_update()
    )))
    .bind(member.company_id.as_str())
    .bind(user.as_str())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found("member"))?;
    let (modules, permissions) = grants_of(&mut tx, &target.id).await?;
    let (modules, permissions) = apply_grants(
        &state.catalog,
        &member,
        target.role(),
        (&modules, &permissions),
        body.modules.as_deref(),
        &body.permissions,
    )?;
    set_grants(&mut tx, &target.id, &modules, &permissions, now).await?;
    let after = view(&mut tx, &member.company_id, &user).await?;
    tx.commit().await?;
    Ok(ApiJson(after))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetRole {
    pub role: Role,
}

/// Changes a member's role: a superadmin sets any role; an admin moves members below it
/// among the roles below it. The last superadmin stays.
#[utoipa::path(put, path = "/auth/members/{userId}/role", tag = "members", request_body = SetRole,
    params(("x-org" = String, Header), ("userId" = String, Path)),
    responses((status = 200, body = MemberView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "`last_superadmin`", body = Problem)),
    security(("bearer" = [])))]
pub async fn set_role(
    State(state): State<AppState>,
    member: Member,
    Path(user): Path<UserId>,
    ApiJson(body): ApiJson<SetRole>,
) -> ApiResult<ApiJson<MemberView>> {
    require_manager(&member)?;
    let actor = member.tenant_role;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    // Lock every membership of the company: "the last superadmin" is a rule over them all.
    let rows: Vec<MembershipRow> = sqlx::query_as(state.db.sql(format!(
        "SELECT id, user_id, role, access_version FROM memberships WHERE company_id = $1 \
         ORDER BY id{}",
        state.db.for_update()
    )))
    .bind(member.company_id.as_str())
    .fetch_all(&mut *tx)
    .await?;
    let target = rows
        .iter()
        .find(|r| r.user_id == user.as_str())
        .ok_or_else(|| ApiError::not_found("member"))?;
    if !(actor.manages(target.role()) && actor.manages(body.role))
        || (actor != Role::TenantSuperadmin && body.role >= actor)
    {
        return Err(delegation_denied(format!(
            "a {} cannot make a {} a {}",
            actor.as_str(),
            target.role().as_str(),
            body.role.as_str()
        )));
    }
    let superadmins = rows
        .iter()
        .filter(|r| r.role() == Role::TenantSuperadmin)
        .count();
    if target.role() == Role::TenantSuperadmin
        && body.role != Role::TenantSuperadmin
        && superadmins == 1
    {
        return Err(ApiError::conflict(
            "last_superadmin",
            "the company's last superadmin cannot step down; name another first",
        ));
    }
    if target.role() != body.role {
        sqlx::query("UPDATE memberships SET role = $2, updated_at = $3 WHERE id = $1")
            .bind(&target.id)
            .bind(body.role.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        bump_access_version(&mut tx, &target.id, now).await?;
    }
    let after = view(&mut tx, &member.company_id, &user).await?;
    tx.commit().await?;
    Ok(ApiJson(after))
}
