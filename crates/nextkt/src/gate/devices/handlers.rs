//! The device routes: parse, authorize, call the service or the store, map the answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Device, service, store};
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::roles::Permission;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollDevice {
    pub name: String,
    /// The check-in lists the device scans for.
    pub list_ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Enrolled {
    pub device: Device,
    /// Give this to the device (valid 10 minutes, once).
    pub pairing_code: String,
    pub pairing_expires_at: String,
}

/// Enroll a scanner device and get its one-time pairing code.
#[utoipa::path(
    post, path = "/admin/devices", tag = "gate",
    request_body = EnrollDevice,
    responses((status = 201, body = Enrolled), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
pub async fn enroll(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiJson(body): ApiJson<EnrollDevice>,
) -> ApiResult<(StatusCode, ApiJson<Enrolled>)> {
    access.require(Permission::ManageGate)?;
    let name = validate::text("name", &body.name, 100)?;
    if body.list_ids.is_empty() || body.list_ids.len() > 50 {
        return Err(ApiError::invalid("list_ids", "give 1 to 50 check-in lists"));
    }
    let enrolled =
        service::enroll(&state, &access.org_id, &access.actor, name, &body.list_ids).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(Enrolled {
            device: enrolled.device,
            pairing_code: enrolled.pairing_code,
            pairing_expires_at: rfc3339(enrolled.pairing_expires_at),
        }),
    ))
}

/// The organization's scanner devices, oldest first.
#[utoipa::path(
    get, path = "/admin/devices", tag = "gate",
    params(PageParams),
    responses((status = 200, body = Page<Device>), (status = 400, body = Problem)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<Device>>> {
    access.require(Permission::ManageGate)?;
    let page = page.parse()?;
    let rows =
        store::page_of_org(&state.db, &access.org_id, &page.bound(), page.fetch_limit()).await?;
    Ok(ApiJson(page.finish(rows, |r| &r.id).map(Device::from)))
}

/// Revoke a device: its credential stops working at once.
#[utoipa::path(
    delete, path = "/admin/devices/{device_id}", tag = "gate",
    params(("device_id" = String, Path)),
    responses((status = 204, description = "Revoked"), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn revoke(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(device_id): Path<String>,
) -> ApiResult<StatusCode> {
    access.require(Permission::ManageGate)?;
    service::revoke(&state, &access.org_id, &access.actor, &device_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Pair {
    pub pairing_code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Paired {
    pub device_id: String,
    /// The device's credential for `/gate/*` (`Authorization: Bearer`), shown once.
    pub secret: String,
    pub list_ids: Vec<String>,
}

/// Pair a device: trade the one-time pairing code for the device's own credential.
#[utoipa::path(
    post, path = "/gate/pair", tag = "gate",
    request_body = Pair,
    responses((status = 201, body = Paired), (status = 401, description = "Unknown, used or expired code", body = Problem))
)]
pub async fn pair(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Pair>,
) -> ApiResult<(StatusCode, ApiJson<Paired>)> {
    // Not rate-limited like logins: a pairing code is 256 random bits, so guessing is
    // hopeless, and a crew pairing forty devices behind one venue address must not wait.
    let paired = service::pair(&state, body.pairing_code.trim()).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(Paired {
            device_id: paired.device_id,
            secret: paired.secret,
            list_ids: paired.list_ids,
        }),
    ))
}
