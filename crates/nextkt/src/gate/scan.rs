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
    pub scan_id: String,
}

async fn ticket_for(state: &AppState, org_id: &str, code: &str) -> ApiResult<Option<TicketRow>> {
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
            Err(_) => return Ok(None),
        }
    } else {
        code.to_string()
    };
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TICKET_COLUMNS} FROM tickets WHERE code = $1 AND organization_id = $2"
    )))
    .bind(code)
    .bind(org_id.to_string())
    .fetch_optional(&state.db.pool)
    .await?)
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
    let nonce = validate::text("nonce", &body.nonce, 100)?;
    let gate = validate::text("gate", body.gate.as_deref().unwrap_or("main"), 100)?;
    let direction = match body.direction.as_deref().unwrap_or("in") {
        d @ ("in" | "out") => d.to_string(),
        _ => return Err(ApiError::invalid("direction", "must be in or out")),
    };
    if body.code.len() > 2000 {
        return Err(ApiError::invalid("code", "too long"));
    }
    let list_id = match (&body.list_id, device.list_ids.as_slice()) {
        (Some(id), _) => id.clone(),
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
    if let Some(answer) = earlier(&state, &device.id, &nonce).await? {
        return Ok(ApiJson(answer));
    }
    let list = lists::find(&state.db, &device.org_id, &list_id)
        .await?
        .ok_or_else(|| ApiError::not_found("check-in list"))?;
    let now = state.clock.now_ms();
    let ticket = ticket_for(&state, &device.org_id, body.code.trim()).await?;
    let scan_id = new_id();
    let described = match &ticket {
        Some(t) => Some(describe(&state, t).await?),
        None => None,
    };

    let mut tx = state.db.begin().await?;
    let claimed = sqlx::query(
        "INSERT INTO scans (id, organization_id, device_id, nonce, list_id, ticket_id, gate, direction, result, \
         answer_json, scanned_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', '{}', $9) \
         ON CONFLICT (device_id, nonce) DO NOTHING",
    )
    .bind(scan_id.clone())
    .bind(device.org_id.clone())
    .bind(device.id.clone())
    .bind(nonce.clone())
    .bind(list.id.clone())
    .bind(ticket.as_ref().map(|t| t.id.clone()))
    .bind(gate.clone())
    .bind(direction.clone())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        drop(tx);
        return earlier(&state, &device.id, &nonce)
            .await?
            .map(ApiJson)
            .ok_or_else(|| {
                ApiError::conflict(
                    "scan_in_progress",
                    "a scan with this nonce is still being recorded",
                )
            });
    }
    let mut first_scan = None;
    let result: &str = match (
        &ticket,
        ticket.as_ref().and_then(|t| refusal(t, &list, now)),
    ) {
        (None, _) => "unknown",
        (Some(_), Some(refused)) => refused,
        (Some(t), None) if direction == "out" => {
            let left = sqlx::query(
                "UPDATE ticket_checkins SET inside = 0, last_at = $1 WHERE ticket_id = $2 AND list_id = $3 AND inside = 1",
            )
            .bind(now)
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
        (Some(t), None) => {
            let entered = sqlx::query(
                "INSERT INTO ticket_checkins (ticket_id, list_id, inside, first_scan_id, first_at, first_gate, last_at) \
                 VALUES ($1, $2, 1, $3, $4, $5, $4) ON CONFLICT (ticket_id, list_id) DO NOTHING",
            )
            .bind(t.id.clone())
            .bind(list.id.clone())
            .bind(scan_id.clone())
            .bind(now)
            .bind(gate.clone())
            .execute(&mut *tx)
            .await?;
            let reentered = entered.rows_affected() == 0
                && list.allow_reentry != 0
                && sqlx::query(
                    "UPDATE ticket_checkins SET inside = 1, last_at = $1 WHERE ticket_id = $2 AND list_id = $3 AND inside = 0",
                )
                .bind(now)
                .bind(t.id.clone())
                .bind(list.id.clone())
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
            if entered.rows_affected() == 1 || reentered {
                "valid"
            } else {
                let (at, first_gate): (i64, String) =
                    sqlx::query_as("SELECT first_at, first_gate FROM ticket_checkins WHERE ticket_id = $1 AND list_id = $2")
                        .bind(t.id.clone())
                        .bind(list.id.clone())
                        .fetch_one(&mut *tx)
                        .await?;
                first_scan = Some(FirstScan {
                    at: rfc3339(at),
                    gate: first_gate,
                });
                "already_used"
            }
        }
    };
    let answer = ScanAnswer {
        result: result.to_string(),
        // Nothing about a ticket of another organization or another event leaks.
        ticket: if matches!(result, "unknown" | "wrong_event") {
            None
        } else {
            described
        },
        first_scan,
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
    Ok(ApiJson(answer))
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
