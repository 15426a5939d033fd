//! The organization routes: parse, authorize, call the service, map the answer.

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use super::Organization;
use super::service::{self, Settings};
use crate::platform::error::ApiResult;
use crate::platform::json::ApiJson;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::roles::Permission;

/// The caller's organization.
#[utoipa::path(
    get, path = "/admin/organization", tag = "organization",
    responses((status = 200, body = Organization)),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    access: AdminAccess,
) -> ApiResult<ApiJson<Organization>> {
    access.require(Permission::ReadOrganization)?;
    let row = service::get(&state.db, &access.org_id).await?;
    Ok(ApiJson(row.into()))
}

/// Settings that can be changed; absent fields stay as they are, `""` clears an optional one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganization {
    pub name: Option<String>,
    pub currency: Option<String>,
    pub timezone: Option<String>,
    pub locale: Option<String>,
    pub support_email: Option<String>,
    pub website: Option<String>,
    /// Tax on tickets in basis points, 0–5,000 (1,000 = 10 %).
    pub tax_bps: Option<i64>,
}

fn optional(value: &str, check: impl Fn(&str) -> ApiResult<String>) -> ApiResult<Option<String>> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        check(value).map(Some)
    }
}

/// Change the caller's organization settings (owners and admins).
#[utoipa::path(
    patch, path = "/admin/organization", tag = "organization",
    request_body = UpdateOrganization,
    responses(
        (status = 200, body = Organization),
        (status = 400, description = "A field is invalid", body = crate::platform::error::Problem),
        (status = 403, description = "Not an owner or admin", body = crate::platform::error::Problem),
    ),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiJson(body): ApiJson<UpdateOrganization>,
) -> ApiResult<ApiJson<Organization>> {
    access.require(Permission::ManageOrganization)?;
    // In the order the fields are listed, so the first invalid one is the one reported.
    let settings = Settings {
        name: body
            .name
            .as_deref()
            .map(|v| validate::text("name", v, 200))
            .transpose()?,
        currency: body
            .currency
            .as_deref()
            .map(|v| validate::currency("currency", v))
            .transpose()?,
        timezone: body
            .timezone
            .as_deref()
            .map(|v| validate::timezone("timezone", v))
            .transpose()?,
        locale: body
            .locale
            .as_deref()
            .map(|v| validate::locale("locale", v))
            .transpose()?,
        support_email: body
            .support_email
            .as_deref()
            .map(|v| optional(v, |v| validate::email("support_email", v)))
            .transpose()?,
        website: body
            .website
            .as_deref()
            .map(|v| optional(v, |v| validate::http_url("website", v)))
            .transpose()?,
        tax_bps: body
            .tax_bps
            .map(|v| validate::range("tax_bps", v, 0, 5_000))
            .transpose()?,
    };
    let after = service::update(&state, &access.org_id, &access.actor, settings).await?;
    Ok(ApiJson(after))
}
