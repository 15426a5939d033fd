//! The rules of memberships: which organization an operator acts in, who may grant which
//! role, the last owner; adding (and inviting), changing and removing members, each in one
//! transaction with its audit entry.

use serde_json::json;

use super::MembershipSummary;
use super::store::{self, MemberRow};
use crate::ids::OrgId;
use crate::notify::outbox::{self, Email};
use crate::platform::db::{Db, Tx};
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::one_time::{self, Purpose};
use crate::state::AppState;
use crate::tenancy::access::{AdminAccess, suspended};
use crate::tenancy::audit::{self, Change};
use crate::tenancy::operators::{self, invite_payload};
use crate::tenancy::organizations;
use crate::tenancy::roles::Role;

/// How long an invitation can be accepted.
pub const INVITE_TTL_SECS: i64 = 7 * 24 * 3600;

/// The organizations an operator belongs to (memberships with an unknown role are left out).
pub async fn of_operator(
    db: &Db,
    operator_id: &str,
) -> Result<Vec<MembershipSummary>, sqlx::Error> {
    let rows = store::of_operator(db, operator_id).await?;
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
#[tracing::instrument(skip_all, fields(operator_id = %operator_id))]
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

/// Only an owner grants, changes or removes the owner role.
pub fn check_may_grant(access: &AdminAccess, role: Role) -> ApiResult<()> {
    if role == Role::Owner && access.role != Role::Owner {
        return Err(ApiError::forbidden(
            "only an owner may grant, change or remove the owner role",
        ));
    }
    Ok(())
}

fn last_owner() -> ApiError {
    ApiError::rule(
        "last_owner",
        "an organization needs an owner: make someone else owner first",
    )
}

/// How the audit log shows a member.
fn audit_json(member: &MemberRow) -> serde_json::Value {
    json!({ "operator_id": member.operator_id, "email": member.email, "role": member.role })
}

async fn find_member(tx: &mut Tx, org_id: &OrgId, operator_id: &str) -> ApiResult<MemberRow> {
    store::find_member(tx, org_id, operator_id)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))
}

/// Adds an operator by (validated) email, inviting someone without an account or without a
/// password yet. The caller may grant `role` (see [`check_may_grant`]).
#[tracing::instrument(skip_all, fields(org_id = %access.org_id, operator_id = tracing::field::Empty))]
pub async fn add(
    state: &AppState,
    access: &AdminAccess,
    email: &str,
    role: Role,
) -> ApiResult<MemberRow> {
    let org_id = &access.org_id;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let org = organizations::find_in(&state.db, &mut tx, org_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let (operator_id, invited) = operators::find_or_invite(&mut tx, email, now).await?;
    tracing::Span::current().record("operator_id", operator_id.as_str());
    if store::role_of(&mut tx, org_id, &operator_id)
        .await?
        .is_some()
    {
        return Err(ApiError::conflict(
            "already_member",
            "this operator is already a member",
        ));
    }
    store::insert(&mut tx, org_id, &operator_id, role, now).await?;
    let needs_invite: bool = invited
        || operators::store::password_hash(&mut tx, &operator_id)
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
                organization_id: Some(org_id),
                template: "operator_invite",
                locale: &org.locale,
                to: email,
                payload: invite_payload(&token, &org.name),
            },
            now,
        )
        .await?;
    }
    let member = find_member(&mut tx, org_id, &operator_id).await?;
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor: &access.actor,
            action: "member.added",
            target_kind: "operator",
            target_id: &operator_id,
            before: None,
            after: Some(audit_json(&member)),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(member)
}

/// Changes a member's role; the caller may grant both the current and the new role, and
/// the last owner stays owner.
#[tracing::instrument(skip_all, fields(org_id = %access.org_id, operator_id = %operator_id))]
pub async fn change_role(
    state: &AppState,
    access: &AdminAccess,
    operator_id: &str,
    role: Role,
) -> ApiResult<MemberRow> {
    let org_id = &access.org_id;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    organizations::find_in(&state.db, &mut tx, org_id).await?;
    let before = find_member(&mut tx, org_id, operator_id).await?;
    let current = Role::parse(&before.role).unwrap_or(Role::Viewer);
    check_may_grant(access, current)?;
    check_may_grant(access, role)?;
    if current == Role::Owner
        && role != Role::Owner
        && store::owner_count(&mut tx, org_id).await? <= 1
    {
        return Err(last_owner());
    }
    store::set_role(&mut tx, org_id, operator_id, role, now).await?;
    let after = find_member(&mut tx, org_id, operator_id).await?;
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor: &access.actor,
            action: "member.role_changed",
            target_kind: "operator",
            target_id: operator_id,
            before: Some(audit_json(&before)),
            after: Some(audit_json(&after)),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Removes a member (their account stays); never the last owner.
#[tracing::instrument(skip_all, fields(org_id = %access.org_id, operator_id = %operator_id))]
pub async fn remove(state: &AppState, access: &AdminAccess, operator_id: &str) -> ApiResult<()> {
    let org_id = &access.org_id;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    organizations::find_in(&state.db, &mut tx, org_id).await?;
    let before = find_member(&mut tx, org_id, operator_id).await?;
    let current = Role::parse(&before.role).unwrap_or(Role::Viewer);
    check_may_grant(access, current)?;
    if current == Role::Owner && store::owner_count(&mut tx, org_id).await? <= 1 {
        return Err(last_owner());
    }
    store::delete(&mut tx, org_id, operator_id).await?;
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor: &access.actor,
            action: "member.removed",
            target_kind: "operator",
            target_id: operator_id,
            before: Some(audit_json(&before)),
            after: None,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
