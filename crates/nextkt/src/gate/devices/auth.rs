//! A device's credential (`Authorization: Bearer nkt_dev_…`) as a [`GateDevice`].

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::{DEVICE_PREFIX, GateDevice, store};
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::secrets::token_hash;
use crate::state::AppState;
use crate::tenancy::access::{bearer, invalid_credentials, missing_credentials, suspended};

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
        let row = store::by_secret(&state.db, &hash).await?;
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
