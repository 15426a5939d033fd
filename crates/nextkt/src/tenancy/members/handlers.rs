//! The member routes: parse, authorize, call the service, map the answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::service;
use super::store::{self, MemberRow};
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::roles::{Permission, Role};

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

impl From<MemberRow> for Member {
    fn from(row: MemberRow) -> Self {
        Member {
            status: if row.password_hash.is_some() {
                "active"
            } else {
                "invited"
            }
            .into(),
            role: Role::parse(&row.role).unwrap_or(Role::Viewer),
            operator_id: row.operator_id,
            email: row.email,
            name: row.name,
            created_at: rfc3339(row.created_at),
        }
    }
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
    let rows = store::page_of(&state.db, &access.org_id, &page).await?;
    Ok(ApiJson(
        page.finish(rows, |r| &r.operator_id).map(Member::from),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    pub email: String,
    pub role: Role,
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
    service::check_may_grant(&access, body.role)?;
    let email = validate::email("email", &body.email)?;
    let member = service::add(&state, &access, &email, body.role).await?;
    Ok((StatusCode::CREATED, ApiJson(member.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    pub role: Role,
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
    let member = service::change_role(&state, &access, &operator_id, body.role).await?;
    Ok(ApiJson(member.into()))
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
    service::remove(&state, &access, &operator_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
