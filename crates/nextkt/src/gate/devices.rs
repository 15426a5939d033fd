//! Scanner devices. An operator enrolls a device for chosen check-in lists and gets a
//! one-time pairing code (10 minutes); the device trades it at `/gate/pair` for its own
//! secret, which works on `/gate/*` only, for that organization and those lists, until
//! revoked.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::clock::{opt_rfc3339, rfc3339};
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::platform::secrets::{new_token, token_hash};
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::{
    AdminAccess, bearer, invalid_credentials, missing_credentials, suspended,
};
use crate::tenancy::audit::{self, Change};
use crate::tenancy::roles::Permission;

pub const DEVICE_PREFIX: &str = "nkt_dev_";
const PAIRING_SECS: i64 = 600;

#[derive(Debug, Serialize, ToSchema)]
pub struct Device {
    pub id: String,
    pub name: String,
    pub list_ids: Vec<String>,
    /// `awaiting_pairing`, `active` or `revoked`.
    pub status: String,
    pub paired_at: Option<String>,
    pub revoked_at: Option<String>,
    pub created_at: String,
}

#[derive(sqlx::FromRow)]
struct DeviceRow {
    id: String,
    name: String,
    list_ids_json: String,
    paired_at: Option<i64>,
    revoked_at: Option<i64>,
    created_at: i64,
}

impl From<DeviceRow> for Device {
    fn from(r: DeviceRow) -> Self {
        Device {
            status: if r.revoked_at.is_some() {
                "revoked"
            } else if r.paired_at.is_some() {
                "active"
            } else {
                "awaiting_pairing"
            }
            .into(),
            list_ids: serde_json::from_str(&r.list_ids_json).unwrap_or_default(),
            id: r.id,
            name: r.name,
            paired_at: opt_rfc3339(r.paired_at),
            revoked_at: opt_rfc3339(r.revoked_at),
            created_at: rfc3339(r.created_at),
        }
    }
}

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
    for id in &body.list_ids {
        if super::lists::find(&state.db, &access.org_id, id)
            .await?
            .is_none()
        {
            return Err(ApiError::not_found("check-in list"));
        }
    }
    let now = state.clock.now_ms();
    let code = new_token("pair_");
    let row = DeviceRow {
        id: new_id(),
        name,
        list_ids_json: serde_json::to_string(&body.list_ids).unwrap_or_default(),
        paired_at: None,
        revoked_at: None,
        created_at: now,
    };
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO devices (id, organization_id, name, list_ids_json, pairing_code_hash, pairing_expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(row.id.clone())
    .bind(access.org_id.clone())
    .bind(row.name.clone())
    .bind(row.list_ids_json.clone())
    .bind(token_hash(&code))
    .bind(now + PAIRING_SECS * 1000)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let device = Device::from(row);
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "device.enrolled",
            target_kind: "device",
            target_id: &device.id,
            before: None,
            after: serde_json::to_value(&device).ok(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(Enrolled {
            device,
            pairing_code: code,
            pairing_expires_at: rfc3339(now + PAIRING_SECS * 1000),
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
    let rows: Vec<DeviceRow> = sqlx::query_as(
        "SELECT id, name, list_ids_json, paired_at, revoked_at, created_at FROM devices \
         WHERE organization_id = $1 AND ($2 = '' OR id > $2) ORDER BY id LIMIT $3",
    )
    .bind(access.org_id.clone())
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&state.db.pool)
    .await?;
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
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let done = sqlx::query(
        "UPDATE devices SET revoked_at = COALESCE(revoked_at, $1), pairing_code_hash = NULL WHERE id = $2 AND organization_id = $3",
    )
    .bind(now)
    .bind(device_id.clone())
    .bind(access.org_id.clone())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(ApiError::not_found("device"));
    }
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "device.revoked",
            target_kind: "device",
            target_id: &device_id,
            before: None,
            after: None,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    // Other processes stop accepting the device within the cache's second.
    state.device_cache.clear();
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
    let now = state.clock.now_ms();
    let secret = new_token(DEVICE_PREFIX);
    let paired: Option<(String, String)> = sqlx::query_as(
        "UPDATE devices SET secret_hash = $1, paired_at = $2, pairing_code_hash = NULL \
         WHERE pairing_code_hash = $3 AND pairing_expires_at > $2 AND revoked_at IS NULL RETURNING id, list_ids_json",
    )
    .bind(token_hash(&secret))
    .bind(now)
    .bind(token_hash(body.pairing_code.trim()))
    .fetch_optional(&state.db.pool)
    .await?;
    let (device_id, lists) = paired.ok_or_else(|| {
        ApiError::unauthorized(
            "invalid_pairing_code",
            "the pairing code is unknown, used or expired",
        )
    })?;
    Ok((
        StatusCode::CREATED,
        ApiJson(Paired {
            device_id,
            secret,
            list_ids: serde_json::from_str(&lists).unwrap_or_default(),
        }),
    ))
}

/// A paired, unrevoked device of an active organization.
#[derive(Clone)]
pub struct GateDevice {
    pub id: String,
    pub org_id: String,
    pub list_ids: Vec<String>,
}

impl FromRequestParts<AppState> for GateDevice {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let token = bearer(parts).ok_or_else(missing_credentials)?;
        if !token.starts_with(DEVICE_PREFIX) {
            return Err(invalid_credentials());
        }
        let hash = token_hash(token);
        if let Some(device) = state.device_cache.get(&hash, 0) {
            return Ok(device);
        }
        let row: Option<(String, String, String, Option<i64>)> = sqlx::query_as(
            "SELECT d.id, d.organization_id, d.list_ids_json, o.suspended_at FROM devices d \
             JOIN organizations o ON o.id = d.organization_id WHERE d.secret_hash = $1 AND d.revoked_at IS NULL",
        )
        .bind(hash.clone())
        .fetch_optional(&state.db.pool)
        .await?;
        let (id, org_id, lists, suspended_at) = row.ok_or_else(invalid_credentials)?;
        if suspended_at.is_some() {
            return Err(suspended());
        }
        let device = GateDevice {
            id,
            org_id,
            list_ids: serde_json::from_str(&lists).unwrap_or_default(),
        };
        state.device_cache.put(hash, device.clone(), None);
        Ok(device)
    }
}
