//! The bundle route: a device's bundle, from the cache while it is fresh and current.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::{Bundle, FRESH_FOR, service, store};
use crate::gate::devices::GateDevice;
use crate::platform::error::{ApiResult, Problem};
use crate::state::AppState;

/// Download the offline bundle for this device's lists.
#[utoipa::path(
    get, path = "/gate/bundle", tag = "gate",
    responses((status = 200, body = Bundle), (status = 401, body = Problem)),
    security(("bearer" = []))
)]
pub async fn bundle(
    State(state): State<AppState>,
    device: GateDevice,
) -> ApiResult<impl IntoResponse> {
    let mut lists = device.list_ids.clone();
    lists.sort();
    let key = format!("{}:{}", device.org_id, lists.join(","));
    let slot = state.bundles.slot(&key);
    let mut built = slot.lock().await;
    // Read under the lock: a bundle built after this read is at least this version.
    let version = store::version(&state.db, &device.org_id).await?;
    let body = match built.as_ref() {
        Some((at, v, body)) if at.elapsed() < FRESH_FOR && *v == version => body.clone(),
        _ => {
            let body = Bytes::from(
                serde_json::to_vec(&service::build(&state, &device).await?)
                    .map_err(anyhow::Error::from)?,
            );
            *built = Some((Instant::now(), version, body.clone()));
            body
        }
    };
    drop(built);
    metrics::counter!("nextkt_gate_bundles_total").increment(1);
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    ))
}
