//! Online scans. A device sends what it read (a ticket code, or the QR's signed text) with a
//! nonce; the answer is decided and recorded in one transaction. The first entry of a ticket
//! on a list is a row keyed by (ticket, list), so of two gates scanning one code at the same
//! instant exactly one gets `valid`; the same scan again under its nonce gets the first
//! answer, and another scan under a used nonce is refused.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::devices::GateDevice;
use super::lists::{self, ListRow};
use super::sealing;
use super::writer::{Decision, ScanWriter};
use crate::platform::clock::Millis;
use crate::platform::db::placeholder_list;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::validate;
use crate::state::AppState;
use crate::tickets::{TicketRow, signing, ticket_columns_of};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

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

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScannedTicket {
    pub holder_name: String,
    pub ticket_type: String,
    pub seat: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FirstScan {
    pub at: String,
    pub gate: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScanAnswer {
    /// `valid`, `already_used`, `not_on_this_list`, `revoked`, `not_yet_valid`,
    /// `list_closed`, `wrong_event`, `unknown`; for exits `exited` or `not_inside`.
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<ScannedTicket>,
    /// For `already_used`: when and where the ticket went in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_scan: Option<FirstScan>,
    /// Set on an uploaded offline scan that let in someone the server refuses.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub conflict: bool,
    pub scan_id: String,
}

/// What a scanned code is.
pub enum Found {
    Ticket(Box<(TicketRow, ScannedTicket)>),
    /// A code that no longer admits anyone (transferred away): the ticket's id.
    Revoked(String),
    /// Not a code of this organization, or a QR whose signature does not check.
    Unknown,
}

impl Found {
    pub fn ticket_id(&self) -> Option<&str> {
        match self {
            Found::Ticket(found) => Some(&found.0.id),
            Found::Revoked(id) => Some(id),
            Found::Unknown => None,
        }
    }
}

#[derive(sqlx::FromRow)]
struct ScannedRow {
    #[sqlx(flatten)]
    ticket: TicketRow,
    ticket_type: String,
    row_label: Option<String>,
    seat_number: Option<String>,
}

/// The ticket a scanned code or QR names, with what the gate shows of it.
async fn ticket_for(state: &AppState, org_id: &str, code: &str) -> ApiResult<Found> {
    let code = if code.starts_with("NKT1.") {
        let Some(kid) = signing::key_id(code) else {
            return Ok(Found::Unknown);
        };
        let Some(key) = state
            .signing_keys
            .public_key(&state.db, org_id, &kid)
            .await?
        else {
            return Ok(Found::Unknown);
        };
        match signing::verify(code, |k| (k == kid).then(|| key.clone())) {
            Ok(claims) => claims.code,
            Err(_) => return Ok(Found::Unknown),
        }
    } else {
        code.to_string()
    };
    let columns = ticket_columns_of("t");
    let row: Option<ScannedRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {columns}, tt.name AS ticket_type, s.row_label, s.seat_number FROM tickets t \
         JOIN ticket_types tt ON tt.id = t.ticket_type_id LEFT JOIN seats s ON s.id = t.seat_id \
         WHERE t.code = $1 AND t.organization_id = $2"
    )))
    .bind(code.clone())
    .bind(org_id.to_string())
    .fetch_optional(&state.db.pool)
    .await?;
    if let Some(row) = row {
        let shown = ScannedTicket {
            holder_name: row.ticket.holder_name.clone(),
            ticket_type: row.ticket_type,
            seat: row
                .row_label
                .zip(row.seat_number)
                .map(|(r, n)| format!("{r}-{n}")),
        };
        return Ok(Found::Ticket(Box::new((row.ticket, shown))));
    }
    let revoked: Option<String> = sqlx::query_scalar(
        "SELECT ticket_id FROM revoked_codes WHERE code_hash = $1 AND organization_id = $2",
    )
    .bind(sealing::lookup_hash(&code))
    .bind(org_id.to_string())
    .fetch_optional(&state.db.pool)
    .await?;
    Ok(match revoked {
        Some(ticket_id) => Found::Revoked(ticket_id),
        None => Found::Unknown,
    })
}

/// What a scan of `ticket` on `list` says, before any entry is recorded.
pub fn refusal(ticket: &TicketRow, list: &ListRow, now: Millis) -> Option<&'static str> {
    if ticket.status != "valid" {
        Some("revoked")
    } else if ticket.event_id != list.event_id {
        Some("wrong_event")
    } else if !list.admits(&ticket.ticket_type_id) {
        Some("not_on_this_list")
    } else if list.starts_at.is_some_and(|at| now < at) {
        Some("not_yet_valid")
    } else if list.ends_at.is_some_and(|at| now >= at) {
        Some("list_closed")
    } else {
        None
    }
}

/// A scan, checked, ready to be decided.
pub struct Scan {
    pub nonce: String,
    /// What the scan asked (`request_hash`): a nonce used again must ask the same.
    pub request_hash: String,
    pub code: String,
    pub list_id: String,
    pub gate: String,
    pub direction: String,
    /// When it happened (the device's clock for offline scans).
    pub at: Millis,
    /// For an offline scan: what the device answered the guest then.
    pub device_result: Option<String>,
}

/// What a scan asks, hashed: the code, the list (as named, or the device's only one), the
/// gate and the direction. A retry asks the same; another scan under the same nonce does not.
pub fn request_hash(
    device: &GateDevice,
    code: &str,
    list_id: Option<&str>,
    gate: &str,
    direction: &str,
) -> String {
    let list = match (list_id, device.list_ids.as_slice()) {
        (Some(id), _) => id,
        (None, [only]) => only.as_str(),
        (None, _) => "",
    };
    let mut hasher = Sha256::new();
    for part in [code.trim(), list, gate, direction] {
        hasher.update(part.len().to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// 409: the device used a nonce again for a different scan (a fault of the device; the
/// first answer is not for this scan).
pub fn nonce_reused() -> ApiError {
    let mut err = ApiError::conflict(
        "nonce_reused",
        "this nonce was used for a different scan; give every scan its own nonce",
    );
    err.field = Some("nonce".into());
    err
}

/// The scan's own fields: nonce, gate, direction (the code is only bounded in size).
fn check_fields(
    nonce: &str,
    code: &str,
    gate: Option<&str>,
    direction: Option<&str>,
) -> ApiResult<(String, String, String)> {
    let nonce = validate::text("nonce", nonce, 100)?;
    let gate = validate::text("gate", gate.unwrap_or("main"), 100)?;
    let direction = match direction.unwrap_or("in") {
        d @ ("in" | "out") => d.to_string(),
        _ => return Err(ApiError::invalid("direction", "must be in or out")),
    };
    if code.len() > 2000 {
        return Err(ApiError::invalid("code", "too long"));
    }
    Ok((nonce, gate, direction))
}

/// The list a scan is for: named, or the device's only one; and the device must scan for it.
fn check_list(device: &GateDevice, list_id: Option<&str>) -> ApiResult<String> {
    let list_id = match (list_id, device.list_ids.as_slice()) {
        (Some(id), _) => id.to_string(),
        (None, [only]) => only.clone(),
        (None, _) => {
            return Err(ApiError::invalid(
                "list_id",
                "required: this device scans for several lists",
            ));
        }
    };
    if !device.list_ids.contains(&list_id) {
        return Err(ApiError::forbidden_code(
            "list_not_allowed",
            "this device does not scan for that list",
        ));
    }
    Ok(list_id)
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
    let decision = resolve(&state, &device, scan, now).await?;
    Ok(ApiJson(state.scan_writer.decide(decision).await?))
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

/// How far a device's clock may run ahead of the server's.
const CLOCK_SKEW_MS: i64 = 5 * 60_000;
/// Offline scans older than this are refused (a device's queue is uploaded within days).
const MAX_OFFLINE_AGE_MS: i64 = 30 * 24 * 3_600_000;

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
    // Scans uploaded before keep their answers, whatever has changed since (the device's
    // lists, the clock); only new ones must fit the device's lists and the time window.
    let stored = stored_answers(&state, &device.id, fields.iter().map(|f| f.0.as_str())).await?;
    let mut checked = Vec::with_capacity(fields.len());
    for (i, ((nonce, gate, direction, scanned_at, device_result, hash), item)) in
        fields.into_iter().zip(&body.scans).enumerate()
    {
        let at = |e: ApiError| e.at_item("scans", i);
        if let Some((_, stored_hash)) = stored.get(&nonce) {
            if stored_hash.as_ref().is_some_and(|h| *h != hash) {
                return Err(at(nonce_reused()));
            }
            checked.push(Err(nonce));
            continue;
        }
        let list_id = check_list(&device, item.list_id.as_deref()).map_err(at)?;
        if scanned_at > now + CLOCK_SKEW_MS || scanned_at < now - MAX_OFFLINE_AGE_MS {
            return Err(at(ApiError::invalid(
                "scanned_at",
                "must be within the last 30 days and not in the future",
            )));
        }
        checked.push(Ok(Scan {
            request_hash: hash,
            nonce,
            code: item.code.trim().to_string(),
            list_id,
            gate,
            direction,
            at: scanned_at,
            device_result: Some(device_result),
        }));
    }
    // Resolved in order and queued in order, then answered as the writers commit.
    let mut pending = Vec::with_capacity(checked.len());
    for scan in checked {
        pending.push(match scan {
            Err(nonce) => (nonce, None),
            Ok(scan) => {
                let nonce = scan.nonce.clone();
                let decision = resolve(&state, &device, scan, now).await?;
                (nonce, Some(state.scan_writer.submit(decision)?))
            }
        });
    }
    let mut results = Vec::with_capacity(pending.len());
    for (nonce, answer) in pending {
        let answer = match answer {
            Some(answer) => ScanWriter::answer(answer).await?,
            None => stored
                .get(&nonce)
                .map(|(answer, _)| answer.clone())
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("stored answer vanished")))?,
        };
        results.push(OfflineResult { nonce, answer });
    }
    let conflicts = results.iter().filter(|r| r.answer.conflict).count();
    Ok(ApiJson(OfflineBatchAnswer { results, conflicts }))
}

/// The answers already given to some of this device's nonces, with what those scans asked
/// (`request_hash`; none for scans recorded before it was kept).
async fn stored_answers(
    state: &AppState,
    device_id: &str,
    nonces: impl Iterator<Item = &str>,
) -> ApiResult<HashMap<String, (ScanAnswer, Option<String>)>> {
    let nonces: Vec<&str> = nonces.collect();
    let mut query = sqlx::query_as::<_, (String, String, Option<String>)>(sqlx::AssertSqlSafe(format!(
        "SELECT nonce, answer_json, request_hash FROM scans WHERE device_id = $1 AND result <> 'pending' AND nonce IN ({})",
        placeholder_list(2, nonces.len())
    )))
    .persistent(false)
    .bind(device_id.to_string());
    for nonce in &nonces {
        query = query.bind(nonce.to_string());
    }
    Ok(query
        .fetch_all(&state.db.pool)
        .await?
        .into_iter()
        .filter_map(|(nonce, json, hash)| Some((nonce, (serde_json::from_str(&json).ok()?, hash))))
        .collect())
}

/// Resolves a scan: its list and what its code is (reads only, many at once).
async fn resolve(
    state: &AppState,
    device: &GateDevice,
    scan: Scan,
    now: Millis,
) -> ApiResult<Decision> {
    let list = lists::find(&state.db, &device.org_id, &scan.list_id)
        .await?
        .ok_or_else(|| ApiError::not_found("check-in list"))?;
    let found = ticket_for(state, &device.org_id, &scan.code).await?;
    Ok(Decision {
        org_id: device.org_id.clone(),
        device_id: device.id.clone(),
        scan,
        list,
        found,
        now,
    })
}
