//! Online scans. A device sends what it read (a ticket code, or the QR's signed text) with a
//! nonce; the answer is decided and recorded in one transaction. The first entry of a ticket
//! on a list is a row keyed by (ticket, list), so of two gates scanning one code at the same
//! instant exactly one gets `valid`; the same nonce again gets the first answer.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::devices::GateDevice;
use super::lists::{self, ListRow};
use super::sealing;
use crate::app::AppState;
use crate::platform::clock::{Millis, rfc3339};
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::validate;
use crate::tickets::{TICKET_COLUMNS, TicketRow, signing};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// Unique per scan on this device; a repeat returns the first answer.
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
    /// Set on an uploaded offline scan that admitted a ticket already inside.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub conflict: bool,
    pub scan_id: String,
}

/// What a scanned code is.
enum Found {
    Ticket(TicketRow),
    /// A code that no longer admits anyone (transferred away).
    Revoked,
    /// Not a code of this organization, or a QR whose signature does not check.
    Unknown,
}

async fn ticket_for(state: &AppState, org_id: &str, code: &str) -> ApiResult<Found> {
    let code = if code.starts_with("NKT1.") {
        let keys: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, public_key FROM event_signing_keys WHERE organization_id = $1",
        )
        .bind(org_id.to_string())
        .fetch_all(&state.db.pool)
        .await?;
        match signing::verify(code, |kid| {
            keys.iter()
                .find(|(id, _)| id == kid)
                .map(|(_, k)| k.clone())
        }) {
            Ok(claims) => claims.code,
            Err(_) => return Ok(Found::Unknown),
        }
    } else {
        code.to_string()
    };
    let ticket: Option<TicketRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TICKET_COLUMNS} FROM tickets WHERE code = $1 AND organization_id = $2"
    )))
    .bind(code.clone())
    .bind(org_id.to_string())
    .fetch_optional(&state.db.pool)
    .await?;
    if let Some(ticket) = ticket {
        return Ok(Found::Ticket(ticket));
    }
    let revoked: Option<String> = sqlx::query_scalar(
        "SELECT ticket_id FROM revoked_codes WHERE code_hash = $1 AND organization_id = $2",
    )
    .bind(sealing::lookup_hash(&code))
    .bind(org_id.to_string())
    .fetch_optional(&state.db.pool)
    .await?;
    Ok(if revoked.is_some() {
        Found::Revoked
    } else {
        Found::Unknown
    })
}

async fn describe(state: &AppState, ticket: &TicketRow) -> ApiResult<ScannedTicket> {
    let ticket_type: String = sqlx::query_scalar("SELECT name FROM ticket_types WHERE id = $1")
        .bind(ticket.ticket_type_id.clone())
        .fetch_one(&state.db.pool)
        .await?;
    let seat = match &ticket.seat_id {
        Some(seat) => sqlx::query_as::<_, (String, String)>(
            "SELECT row_label, seat_number FROM seats WHERE id = $1",
        )
        .bind(seat.clone())
        .fetch_optional(&state.db.pool)
        .await?
        .map(|(r, n)| format!("{r}-{n}")),
        None => None,
    };
    Ok(ScannedTicket {
        holder_name: ticket.holder_name.clone(),
        ticket_type,
        seat,
    })
}

/// What a scan of `ticket` on `list` says, before any entry is recorded.
fn refusal(ticket: &TicketRow, list: &ListRow, now: Millis) -> Option<&'static str> {
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
struct Scan {
    nonce: String,
    code: String,
    list_id: String,
    gate: String,
    direction: String,
    /// When it happened (the device's clock for offline scans).
    at: Millis,
    /// For an offline scan: what the device answered the guest then.
    device_result: Option<String>,
}

fn check_scan(
    device: &GateDevice,
    nonce: &str,
    code: &str,
    list_id: Option<&str>,
    gate: Option<&str>,
    direction: Option<&str>,
) -> ApiResult<(String, String, String, String)> {
    let nonce = validate::text("nonce", nonce, 100)?;
    let gate = validate::text("gate", gate.unwrap_or("main"), 100)?;
    let direction = match direction.unwrap_or("in") {
        d @ ("in" | "out") => d.to_string(),
        _ => return Err(ApiError::invalid("direction", "must be in or out")),
    };
    if code.len() > 2000 {
        return Err(ApiError::invalid("code", "too long"));
    }
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
    Ok((nonce, gate, direction, list_id))
}

/// Scan a ticket at a gate.
#[utoipa::path(
    post, path = "/gate/scans", tag = "gate",
    request_body = ScanRequest,
    responses((status = 200, body = ScanAnswer), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, description = "The device does not scan for that list", body = Problem)),
    security(("bearer" = []))
)]
pub async fn scan(
    State(state): State<AppState>,
    device: GateDevice,
    ApiJson(body): ApiJson<ScanRequest>,
) -> ApiResult<ApiJson<ScanAnswer>> {
    let (nonce, gate, direction, list_id) = check_scan(
        &device,
        &body.nonce,
        &body.code,
        body.list_id.as_deref(),
        body.gate.as_deref(),
        body.direction.as_deref(),
    )?;
    let now = state.clock.now_ms();
    let scan = Scan {
        nonce,
        code: body.code.trim().to_string(),
        list_id,
        gate,
        direction,
        at: now,
        device_result: None,
    };
    Ok(ApiJson(record(&state, &device, scan, now).await?))
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
    /// What the server makes of the scan; `conflict` is set when the device admitted a
    /// ticket that had already gone in elsewhere.
    pub answer: ScanAnswer,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfflineBatchAnswer {
    pub results: Vec<OfflineResult>,
    /// How many of these scans admitted a ticket that was already inside.
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
        (status = 403, description = "The device does not scan for one of the lists", body = Problem)),
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
    let mut checked = Vec::with_capacity(body.scans.len());
    for (i, item) in body.scans.iter().enumerate() {
        let at = |e: ApiError| e.at_item("scans", i);
        let (nonce, gate, direction, list_id) = check_scan(
            &device,
            &item.nonce,
            &item.code,
            item.list_id.as_deref(),
            item.gate.as_deref(),
            item.direction.as_deref(),
        )
        .map_err(at)?;
        let scanned_at = validate::instant("scanned_at", &item.scanned_at).map_err(at)?;
        if scanned_at > now + CLOCK_SKEW_MS || scanned_at < now - MAX_OFFLINE_AGE_MS {
            return Err(at(ApiError::invalid(
                "scanned_at",
                "must be within the last 30 days and not in the future",
            )));
        }
        let device_result = validate::text("device_result", &item.device_result, 40).map_err(at)?;
        checked.push(Scan {
            nonce,
            code: item.code.trim().to_string(),
            list_id,
            gate,
            direction,
            at: scanned_at,
            device_result: Some(device_result),
        });
    }
    let mut results = Vec::with_capacity(checked.len());
    for scan in checked {
        let nonce = scan.nonce.clone();
        let answer = record(&state, &device, scan, now).await?;
        results.push(OfflineResult { nonce, answer });
    }
    let conflicts = results.iter().filter(|r| r.answer.conflict).count();
    Ok(ApiJson(OfflineBatchAnswer { results, conflicts }))
}

/// Decides and records one scan; the same nonce again returns the first answer.
async fn record(
    state: &AppState,
    device: &GateDevice,
    scan: Scan,
    now: Millis,
) -> ApiResult<ScanAnswer> {
    if let Some(answer) = earlier(state, &device.id, &scan.nonce).await? {
        return Ok(answer);
    }
    let list = lists::find(&state.db, &device.org_id, &scan.list_id)
        .await?
        .ok_or_else(|| ApiError::not_found("check-in list"))?;
    let found = ticket_for(state, &device.org_id, &scan.code).await?;
    let ticket = match &found {
        Found::Ticket(t) => Some(t),
        _ => None,
    };
    let described = match ticket {
        Some(t) => Some(describe(state, t).await?),
        None => None,
    };
    let scan_id = new_id();
    let at = scan.at;
    let admitted_offline = scan.device_result.as_deref() == Some("valid");

    let mut tx = state.db.begin().await?;
    let claimed = sqlx::query(
        "INSERT INTO scans (id, organization_id, device_id, nonce, list_id, ticket_id, gate, direction, result, \
         answer_json, scanned_at, offline, device_result, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', '{}', $9, $10, $11, $12) \
         ON CONFLICT (device_id, nonce) DO NOTHING",
    )
    .bind(scan_id.clone())
    .bind(device.org_id.clone())
    .bind(device.id.clone())
    .bind(scan.nonce.clone())
    .bind(list.id.clone())
    .bind(ticket.map(|t| t.id.clone()))
    .bind(scan.gate.clone())
    .bind(scan.direction.clone())
    .bind(at)
    .bind(i64::from(scan.device_result.is_some()))
    .bind(scan.device_result.clone())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        drop(tx);
        return earlier(state, &device.id, &scan.nonce)
            .await?
            .ok_or_else(|| {
                ApiError::conflict(
                    "scan_in_progress",
                    "a scan with this nonce is still being recorded",
                )
            });
    }
    let mut first_scan = None;
    let mut conflict = false;
    let result: &str = match (&found, ticket.and_then(|t| refusal(t, &list, at))) {
        (Found::Revoked, _) => "revoked",
        (Found::Unknown, _) => "unknown",
        (_, Some(refused)) => refused,
        (Found::Ticket(t), None) if scan.direction == "out" => {
            let left = sqlx::query(
                "UPDATE ticket_checkins SET inside = 0, last_at = $1 WHERE ticket_id = $2 AND list_id = $3 AND inside = 1",
            )
            .bind(at)
            .bind(t.id.clone())
            .bind(list.id.clone())
            .execute(&mut *tx)
            .await?;
            if left.rows_affected() == 1 {
                "exited"
            } else {
                "not_inside"
            }
        }
        (Found::Ticket(t), None) => {
            let entered = sqlx::query(
                "INSERT INTO ticket_checkins (ticket_id, list_id, inside, first_scan_id, first_at, first_gate, last_at) \
                 VALUES ($1, $2, 1, $3, $4, $5, $4) ON CONFLICT (ticket_id, list_id) DO NOTHING",
            )
            .bind(t.id.clone())
            .bind(list.id.clone())
            .bind(scan_id.clone())
            .bind(at)
            .bind(scan.gate.clone())
            .execute(&mut *tx)
            .await?;
            let reentered = entered.rows_affected() == 0
                && list.allow_reentry != 0
                && sqlx::query(
                    "UPDATE ticket_checkins SET inside = 1, last_at = $1 WHERE ticket_id = $2 AND list_id = $3 AND inside = 0",
                )
                .bind(at)
                .bind(t.id.clone())
                .bind(list.id.clone())
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
            if entered.rows_affected() == 1 || reentered {
                "valid"
            } else {
                let (first_at, first_gate, first_id): (i64, String, String) = sqlx::query_as(
                    "SELECT first_at, first_gate, first_scan_id FROM ticket_checkins WHERE ticket_id = $1 AND list_id = $2",
                )
                .bind(t.id.clone())
                .bind(list.id.clone())
                .fetch_one(&mut *tx)
                .await?;
                first_scan = Some(FirstScan {
                    at: rfc3339(first_at),
                    gate: first_gate,
                });
                if admitted_offline {
                    conflict = true;
                    sqlx::query(
                        "INSERT INTO scan_conflicts (id, organization_id, event_id, list_id, ticket_id, scan_id, \
                         first_scan_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(new_id())
                    .bind(device.org_id.clone())
                    .bind(list.event_id.clone())
                    .bind(list.id.clone())
                    .bind(t.id.clone())
                    .bind(scan_id.clone())
                    .bind(first_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                "already_used"
            }
        }
    };
    let answer = ScanAnswer {
        result: result.to_string(),
        // Nothing about a ticket of another organization or another event leaks.
        ticket: if matches!(result, "unknown" | "wrong_event" | "revoked") {
            None
        } else {
            described
        },
        first_scan,
        conflict,
        scan_id: scan_id.clone(),
    };
    sqlx::query("UPDATE scans SET result = $1, answer_json = $2 WHERE id = $3")
        .bind(result.to_string())
        .bind(json!(answer).to_string())
        .bind(scan_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    metrics::counter!("nextkt_scans_total", "result" => result.to_string()).increment(1);
    if conflict {
        metrics::counter!("nextkt_scan_conflicts_total").increment(1);
        tracing::warn!(ticket = ?ticket.map(|t| &t.id), list = %list.id, "offline scan admitted a ticket already inside");
    }
    Ok(answer)
}

async fn earlier(state: &AppState, device_id: &str, nonce: &str) -> ApiResult<Option<ScanAnswer>> {
    let stored: Option<(String, String)> =
        sqlx::query_as("SELECT result, answer_json FROM scans WHERE device_id = $1 AND nonce = $2")
            .bind(device_id.to_string())
            .bind(nonce.to_string())
            .fetch_optional(&state.db.pool)
            .await?;
    Ok(stored
        .filter(|(result, _)| result != "pending")
        .and_then(|(_, json)| serde_json::from_str(&json).ok()))
}
