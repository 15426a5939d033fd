//! The scan routes: parse and check what the device sent, call the service, map the answer.

use std::collections::HashMap;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::service::{self, OfflineItem};
use super::{Scan, ScanAnswer, check_fields, check_list, nonce_reused, request_hash};
use crate::gate::devices::GateDevice;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::validate;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// Unique per scan on this device; a retry of the same scan returns the first answer,
    /// another scan under a used nonce is refused (409 `nonce_reused`).
    pub nonce: String,
    /// The ticket's code, or the QR's text (`NKT1.…`).
    pub code: String,
    /// Optional when the device scans for one list only.
    pub list_id: Option<String>,
    /// Which entrance (default `main`).
    pub gate: Option<String>,
    /// `in` (default) or `out`.
    pub direction: Option<String>,
}

/// Scan a ticket at a gate.
#[utoipa::path(
    post, path = "/gate/scans", tag = "gate",
    request_body = ScanRequest,
    responses((status = 200, body = ScanAnswer), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, description = "The device does not scan for that list", body = Problem),
        (status = 409, description = "The nonce was used for a different scan (`nonce_reused`)", body = Problem)),
    security(("bearer" = []))
)]
pub async fn scan(
    State(state): State<AppState>,
    device: GateDevice,
    ApiJson(body): ApiJson<ScanRequest>,
) -> ApiResult<ApiJson<ScanAnswer>> {
    let (nonce, gate, direction) = check_fields(
        &body.nonce,
        &body.code,
        body.gate.as_deref(),
        body.direction.as_deref(),
    )?;
    let list_id = check_list(&device, body.list_id.as_deref())?;
    let now = state.clock.now_ms();
    let scan = Scan {
        request_hash: request_hash(
            &device,
            &body.code,
            body.list_id.as_deref(),
            &gate,
            &direction,
        ),
        nonce,
        code: body.code.trim().to_string(),
        list_id,
        gate,
        direction,
        at: now,
        device_result: None,
    };
    Ok(ApiJson(service::scan(&state, &device, scan, now).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineScan {
    /// Unique per scan on this device; an upload repeated (in part or whole) records nothing twice.
    pub nonce: String,
    pub code: String,
    pub list_id: Option<String>,
    pub gate: Option<String>,
    pub direction: Option<String>,
    /// When the device scanned (RFC 3339).
    pub scanned_at: String,
    /// What the device answered the guest: `valid` when it let them in (or out).
    pub device_result: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineBatch {
    /// In the order they were scanned; at most 1,000.
    pub scans: Vec<OfflineScan>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfflineResult {
    pub nonce: String,
    /// What the server makes of the scan; `conflict` is set when the device let in someone
    /// the server refuses.
    pub answer: ScanAnswer,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfflineBatchAnswer {
    pub results: Vec<OfflineResult>,
    /// How many of these scans let in someone the server refuses.
    pub conflicts: usize,
}

/// Upload scans made offline. Each is decided as if made online at its `scanned_at`, in
/// order; a ticket the device admitted after it had already gone in elsewhere is recorded
/// as a conflict. The whole upload is checked before anything is recorded.
#[utoipa::path(
    post, path = "/gate/scans:batch", tag = "gate",
    request_body = OfflineBatch,
    responses((status = 200, body = OfflineBatchAnswer), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, description = "The device does not scan for one of the lists", body = Problem),
        (status = 409, description = "A nonce was used for a different scan, before or in this upload (`nonce_reused`)", body = Problem)),
    security(("bearer" = []))
)]
pub async fn upload(
    State(state): State<AppState>,
    device: GateDevice,
    ApiJson(body): ApiJson<OfflineBatch>,
) -> ApiResult<ApiJson<OfflineBatchAnswer>> {
    if body.scans.is_empty() || body.scans.len() > 1000 {
        return Err(ApiError::invalid("scans", "between 1 and 1,000 scans"));
    }
    let now = state.clock.now_ms();
    // Every item's fields first; a bad one refuses the upload.
    let mut fields = Vec::with_capacity(body.scans.len());
    // A nonce twice in the upload must be the same scan twice.
    let mut asked: HashMap<String, String> = HashMap::new();
    for (i, item) in body.scans.iter().enumerate() {
        let at = |e: ApiError| e.at_item("scans", i);
        let (nonce, gate, direction) = check_fields(
            &item.nonce,
            &item.code,
            item.gate.as_deref(),
            item.direction.as_deref(),
        )
        .map_err(at)?;
        let scanned_at = validate::instant("scanned_at", &item.scanned_at).map_err(at)?;
        let device_result = validate::text("device_result", &item.device_result, 40).map_err(at)?;
        let hash = request_hash(
            &device,
            &item.code,
            item.list_id.as_deref(),
            &gate,
            &direction,
        );
        if asked.entry(nonce.clone()).or_insert_with(|| hash.clone()) != &hash {
            return Err(at(nonce_reused()));
        }
        fields.push((nonce, gate, direction, scanned_at, device_result, hash));
    }
    let items = fields
        .into_iter()
        .zip(&body.scans)
        .map(
            |((nonce, gate, direction, scanned_at, device_result, hash), item)| OfflineItem {
                nonce,
                code: item.code.trim().to_string(),
                list_id: item.list_id.clone(),
                gate,
                direction,
                scanned_at,
                device_result,
                hash,
            },
        )
        .collect();
    let results: Vec<OfflineResult> = service::upload(&state, &device, items, now)
        .await?
        .into_iter()
        .map(|(nonce, answer)| OfflineResult { nonce, answer })
        .collect();
    let conflicts = results.iter().filter(|r| r.answer.conflict).count();
    Ok(ApiJson(OfflineBatchAnswer { results, conflicts }))
}
