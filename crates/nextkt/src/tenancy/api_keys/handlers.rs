//! The key routes (`/admin/api-keys`, `/admin/storefront-keys`): parse, authorize, call the
//! service, map the answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::service::{self, NewKey};
use super::{ApiKey, CreatedApiKey, KeyKind, store};
use crate::platform::clock::{Millis, parse_rfc3339};
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::{AdminAccess, Mode};
use crate::tenancy::roles::{Permission, Role};

/// One page of the organization's keys of `kind`, as the API shows them (the partner API's
/// too).
pub async fn list_of(
    state: &AppState,
    org_id: &str,
    kind: KeyKind,
    page: &PageParams,
) -> ApiResult<Page<ApiKey>> {
    let page = page.parse()?;
    let rows = store::page_of(&state.db, org_id, kind.as_str(), &page).await?;
    let now = state.clock.now_ms();
    Ok(page.finish(rows, |r| &r.id).map(|r| r.to_api(now)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum KeyMode {
    Live,
    Test,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub name: String,
    /// The role the key acts with. Only an owner may create an owner key.
    pub role: Role,
    /// `live` (default) or `test`.
    pub mode: Option<KeyMode>,
    /// When the key stops working (RFC 3339); never when absent.
    pub expires_at: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStorefrontKey {
    pub name: String,
    pub mode: Option<KeyMode>,
    pub expires_at: Option<String>,
}

fn parse_expiry(value: Option<&str>) -> ApiResult<Option<Millis>> {
    let Some(text) = value else { return Ok(None) };
    let at = parse_rfc3339(text)
        .ok_or_else(|| ApiError::invalid("expires_at", "must be an RFC 3339 time"))?;
    Ok(Some(at))
}

fn mode_of(mode: Option<KeyMode>) -> Mode {
    match mode {
        Some(KeyMode::Test) => Mode::Test,
        _ => Mode::Live,
    }
}

async fn create_for(
    state: &AppState,
    access: &AdminAccess,
    kind: KeyKind,
    name: &str,
    role: Option<Role>,
    mode: Option<KeyMode>,
    expires_at: Option<&str>,
) -> ApiResult<(StatusCode, ApiJson<CreatedApiKey>)> {
    access.require(Permission::ManageKeys)?;
    if role == Some(Role::Owner) && access.role != Role::Owner {
        return Err(ApiError::forbidden("only an owner may create an owner key"));
    }
    let name = validate::text("name", name, 100)?;
    let expires_at = parse_expiry(expires_at)?;
    let created = service::create(
        state,
        NewKey {
            org_id: &access.org_id,
            kind,
            mode: mode_of(mode),
            name: &name,
            role,
            expires_at,
            created_by: &access.actor,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(created)))
}

/// Create an API key for the operator API. The secret is in this answer only.
#[utoipa::path(
    post, path = "/admin/api-keys", tag = "keys",
    request_body = CreateApiKey,
    responses(
        (status = 201, body = CreatedApiKey),
        (status = 400, body = Problem),
        (status = 403, body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn create_api_key(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiJson(body): ApiJson<CreateApiKey>,
) -> ApiResult<(StatusCode, ApiJson<CreatedApiKey>)> {
    create_for(
        &state,
        &access,
        KeyKind::Admin,
        &body.name,
        Some(body.role),
        body.mode,
        body.expires_at.as_deref(),
    )
    .await
}

/// The organization's API keys (never their secrets).
#[utoipa::path(
    get, path = "/admin/api-keys", tag = "keys",
    params(PageParams),
    responses((status = 200, body = Page<ApiKey>)),
    security(("bearer" = []))
)]
pub async fn list_api_keys(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<ApiKey>>> {
    access.require(Permission::ManageKeys)?;
    Ok(ApiJson(
        list_of(&state, &access.org_id, KeyKind::Admin, &page).await?,
    ))
}

/// Revoke an API key; it stops working at once.
#[utoipa::path(
    delete, path = "/admin/api-keys/{key_id}", tag = "keys",
    params(("key_id" = String, Path)),
    responses((status = 204, description = "Revoked"), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(key_id): Path<String>,
) -> ApiResult<StatusCode> {
    revoke_for(&state, &access, &key_id, KeyKind::Admin).await
}

async fn revoke_for(
    state: &AppState,
    access: &AdminAccess,
    key_id: &str,
    kind: KeyKind,
) -> ApiResult<StatusCode> {
    access.require(Permission::ManageKeys)?;
    service::revoke(state, &access.org_id, key_id, kind, &access.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create a storefront key: it opens this organization's consumer API (`/consumer/*`)
/// without the platform's internal key.
#[utoipa::path(
    post, path = "/admin/storefront-keys", tag = "keys",
    request_body = CreateStorefrontKey,
    responses((status = 201, body = CreatedApiKey), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
pub async fn create_storefront_key(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiJson(body): ApiJson<CreateStorefrontKey>,
) -> ApiResult<(StatusCode, ApiJson<CreatedApiKey>)> {
    create_for(
        &state,
        &access,
        KeyKind::Storefront,
        &body.name,
        None,
        body.mode,
        body.expires_at.as_deref(),
    )
    .await
}

/// The organization's storefront keys (never their secrets).
#[utoipa::path(
    get, path = "/admin/storefront-keys", tag = "keys",
    params(PageParams),
    responses((status = 200, body = Page<ApiKey>)),
    security(("bearer" = []))
)]
pub async fn list_storefront_keys(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<ApiKey>>> {
    access.require(Permission::ManageKeys)?;
    Ok(ApiJson(
        list_of(&state, &access.org_id, KeyKind::Storefront, &page).await?,
    ))
}

/// Revoke a storefront key.
#[utoipa::path(
    delete, path = "/admin/storefront-keys/{key_id}", tag = "keys",
    params(("key_id" = String, Path)),
    responses((status = 204, description = "Revoked"), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn revoke_storefront_key(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(key_id): Path<String>,
) -> ApiResult<StatusCode> {
    revoke_for(&state, &access, &key_id, KeyKind::Storefront).await
}
