//! Enrolling, revoking and pairing devices; enrolment and revocation with their audit
//! entries, each in one transaction.

use super::store::{self, NewDevice};
use super::{DEVICE_PREFIX, Device, DeviceRow};
use crate::gate::lists;
use crate::ids::OrgId;
use crate::platform::clock::Millis;
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::ids::new_id;
use crate::platform::secrets::{new_token, token_hash};
use crate::state::AppState;
use crate::tenancy::access::Actor;
use crate::tenancy::audit::{self, Change};

const PAIRING_SECS: i64 = 600;

/// A device enrolled, with its one-time pairing code.
pub struct Enrollment {
    pub device: Device,
    pub pairing_code: String,
    pub pairing_expires_at: Millis,
}

/// Enrolls a device (name already validated) for the organization's lists.
#[tracing::instrument(skip_all, fields(org_id = %org_id, lists = list_ids.len()))]
pub async fn enroll(
    state: &AppState,
    org_id: &OrgId,
    actor: &Actor,
    name: String,
    list_ids: &[String],
) -> ApiResult<Enrollment> {
    for id in list_ids {
        if lists::find(&state.db, org_id, id).await?.is_none() {
            return Err(ApiError::not_found("check-in list"));
        }
    }
    let now = state.clock.now_ms();
    let code = new_token("pair_");
    let row = DeviceRow {
        id: new_id(),
        name,
        list_ids_json: serde_json::to_string(list_ids).unwrap_or_default(),
        paired_at: None,
        revoked_at: None,
        created_at: now,
    };
    let mut tx = state.db.begin().await?;
    store::insert(
        &mut tx,
        NewDevice {
            row: &row,
            org_id,
            pairing_code_hash: token_hash(&code),
            pairing_expires_at: now + PAIRING_SECS * 1000,
        },
    )
    .await?;
    let device = Device::from(row);
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor,
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
    Ok(Enrollment {
        device,
        pairing_code: code,
        pairing_expires_at: now + PAIRING_SECS * 1000,
    })
}

/// Revokes a device: its credential stops working at once.
#[tracing::instrument(skip_all, fields(org_id = %org_id, device_id = %device_id))]
pub async fn revoke(
    state: &AppState,
    org_id: &OrgId,
    actor: &Actor,
    device_id: &str,
) -> ApiResult<()> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    if !store::revoke(&mut tx, org_id, device_id, now).await? {
        return Err(ApiError::not_found("device"));
    }
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor,
            action: "device.revoked",
            target_kind: "device",
            target_id: device_id,
            before: None,
            after: None,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    // Other processes stop accepting the device within the cache's second.
    state.device_cache.clear();
    Ok(())
}

/// A device paired: its id, its credential (shown once) and its lists.
pub struct Pairing {
    pub device_id: String,
    pub secret: String,
    pub list_ids: Vec<String>,
}

/// Trades a pairing code for the device's own credential.
#[tracing::instrument(skip_all)]
pub async fn pair(state: &AppState, pairing_code: &str) -> ApiResult<Pairing> {
    let now = state.clock.now_ms();
    let secret = new_token(DEVICE_PREFIX);
    let paired = store::pair(
        &state.db,
        token_hash(pairing_code),
        token_hash(&secret),
        now,
    )
    .await?;
    let (device_id, lists) = paired.ok_or_else(|| {
        ApiError::unauthorized(
            "invalid_pairing_code",
            "the pairing code is unknown, used or expired",
        )
    })?;
    Ok(Pairing {
        device_id,
        secret,
        list_ids: serde_json::from_str(&lists).unwrap_or_default(),
    })
}
