//! The guard of every `/internal/*` route: the caller sends the service's internal key as
//! `X-Internal-API-Key`, compared in constant time.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use service::error::ApiError;
use service::secrets::same_secret;

use crate::state::AppState;

pub const HEADER: &str = "x-internal-api-key";

/// A machine caller holding the internal key.
pub struct InternalCaller;

impl FromRequestParts<AppState> for InternalCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(expected) = state.config.internal_api_key.as_deref() else {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "internal_key_not_configured",
                "this server has no internal key (KISUM_INTERNAL_API_KEY), so internal routes are closed",
            ));
        };
        let presented = parts
            .headers
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::unauthorized("internal_key_required", "send X-Internal-API-Key")
            })?;
        if same_secret(presented, expected) {
            Ok(InternalCaller)
        } else {
            Err(ApiError::unauthorized(
                "invalid_internal_key",
                "the X-Internal-API-Key is not this server's",
            ))
        }
    }
}
