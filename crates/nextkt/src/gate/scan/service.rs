//! Deciding scans: what a code is (resolved by many requests at once), then the scan
//! writers decide and record each in order, in their own transactions.

use super::{Found, Scan, ScanAnswer, ScannedTicket, check_list, nonce_reused, store};
use crate::gate::devices::GateDevice;
use crate::gate::lists;
use crate::gate::sealing;
use crate::gate::writer::{Decision, ScanWriter};
use crate::platform::clock::Millis;
use crate::platform::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::tickets::signing;

/// How far a device's clock may run ahead of the server's.
const CLOCK_SKEW_MS: i64 = 5 * 60_000;
/// Offline scans older than this are refused (a device's queue is uploaded within days).
const MAX_OFFLINE_AGE_MS: i64 = 30 * 24 * 3_600_000;

/// Decides an online scan; answers once it is recorded.
#[tracing::instrument(skip_all, fields(device_id = %device.id, list_id = %scan.list_id))]
pub async fn scan(
    state: &AppState,
    device: &GateDevice,
    scan: Scan,
    now: Millis,
) -> ApiResult<ScanAnswer> {
    let decision = resolve(state, device, scan, now).await?;
    state.scan_writer.decide(decision).await
}

/// An uploaded offline scan, its fields checked.
pub struct OfflineItem {
    pub nonce: String,
    /// Trimmed.
    pub code: String,
    pub list_id: Option<String>,
    pub gate: String,
    pub direction: String,
    pub scanned_at: Millis,
    pub device_result: String,
    /// What the scan asks (`request_hash`).
    pub hash: String,
}

/// Decides uploaded offline scans in order: each nonce with its answer.
#[tracing::instrument(skip_all, fields(device_id = %device.id, scans = items.len()))]
pub async fn upload(
    state: &AppState,
    device: &GateDevice,
    items: Vec<OfflineItem>,
    now: Millis,
) -> ApiResult<Vec<(String, ScanAnswer)>> {
    // Scans uploaded before keep their answers, whatever has changed since (the device's
    // lists, the clock); only new ones must fit the device's lists and the time window.
    let stored = store::stored_answers(
        &state.db,
        &device.id,
        items.iter().map(|f| f.nonce.as_str()),
    )
    .await?;
    let mut checked = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let OfflineItem {
            nonce,
            code,
            list_id,
            gate,
            direction,
            scanned_at,
            device_result,
            hash,
        } = item;
        let at = |e: ApiError| e.at_item("scans", i);
        if let Some((_, stored_hash)) = stored.get(&nonce) {
            if stored_hash.as_ref().is_some_and(|h| *h != hash) {
                return Err(at(nonce_reused()));
            }
            checked.push(Err(nonce));
            continue;
        }
        let list_id = check_list(device, list_id.as_deref()).map_err(at)?;
        if scanned_at > now + CLOCK_SKEW_MS || scanned_at < now - MAX_OFFLINE_AGE_MS {
            return Err(at(ApiError::invalid(
                "scanned_at",
                "must be within the last 30 days and not in the future",
            )));
        }
        checked.push(Ok(Scan {
            request_hash: hash,
            nonce,
            code,
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
                let decision = resolve(state, device, scan, now).await?;
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
        results.push((nonce, answer));
    }
    Ok(results)
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
    let row = store::ticket_by_code(&state.db, org_id, &code).await?;
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
    let revoked = store::revoked_ticket(&state.db, org_id, sealing::lookup_hash(&code)).await?;
    Ok(match revoked {
        Some(ticket_id) => Found::Revoked(ticket_id),
        None => Found::Unknown,
    })
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
