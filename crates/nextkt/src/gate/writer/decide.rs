//! What a batch of scans does in its transaction: lock the tickets' current codes, then
//! take each scan's nonce, decide it, record its entry or exit, conflict and answer.

use std::collections::HashMap;

use serde_json::json;

use super::Decision;
use crate::gate::scan::{FirstScan, Found, ScanAnswer, ScanResult, nonce_reused, refusal};
use crate::platform::clock::rfc3339;
use crate::platform::db::{Db, Tx, placeholder_list};
use crate::platform::error::ApiResult;
use crate::platform::ids::new_id;

pub(super) async fn decide_all(
    db: &Db,
    decisions: &[&Decision],
) -> Result<Vec<Decided>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let current = current_codes(db, &mut tx, decisions).await?;
    let mut answers = Vec::with_capacity(decisions.len());
    for job in decisions {
        answers.push(decide(&mut tx, job, &current).await?);
    }
    tx.commit().await?;
    Ok(answers)
}

/// The valid code of each ticket the batch scans, as it is now: locked (on PostgreSQL,
/// `FOR SHARE`, in id order as refunds lock them, so the two cannot deadlock) against a
/// transfer or refund until the batch commits. A code replaced or voided since its scan was
/// resolved is then refused.
async fn current_codes(
    db: &Db,
    tx: &mut Tx,
    decisions: &[&Decision],
) -> Result<HashMap<String, String>, sqlx::Error> {
    let mut ids: Vec<&str> = decisions
        .iter()
        .filter_map(|d| match &d.found {
            Found::Ticket(found) => Some(found.0.id.as_str()),
            _ => None,
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut query = sqlx::query_as::<_, (String, String)>(db.sql(format!(
        "SELECT id, code FROM tickets WHERE status = 'valid' AND id IN ({}) ORDER BY id{}",
        placeholder_list(1, ids.len()),
        db.for_share()
    )))
    .persistent(false);
    for id in &ids {
        query = query.bind(id.to_string());
    }
    Ok(query.fetch_all(&mut **tx).await?.into_iter().collect())
}

/// A scan's answer, and whether it was given before (the same nonce again).
pub struct Decided {
    pub answer: ScanAnswer,
    pub replayed: bool,
    /// The nonce was used before for a different scan: refused, not answered.
    pub reused: bool,
}

impl Decided {
    pub(super) fn into_result(self) -> ApiResult<ScanAnswer> {
        if self.reused {
            Err(nonce_reused())
        } else {
            Ok(self.answer)
        }
    }
}

/// One scan, in the batch's transaction.
async fn decide(
    tx: &mut Tx,
    job: &Decision,
    current_codes: &HashMap<String, String>,
) -> Result<Decided, sqlx::Error> {
    let Decision {
        scan,
        list,
        found,
        now,
        ..
    } = job;
    let now = *now;
    let (ticket, described) = match found {
        Found::Ticket(found) => (Some(&found.0), Some(found.1.clone())),
        _ => (None, None),
    };
    let scan_id = new_id();
    let at = scan.at;
    let claimed = sqlx::query(
        "INSERT INTO scans (id, organization_id, device_id, nonce, list_id, ticket_id, gate, direction, result, \
         answer_json, scanned_at, offline, device_result, received_at, request_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', '{}', $9, $10, $11, $12, $13) \
         ON CONFLICT (device_id, nonce) DO NOTHING",
    )
    .bind(scan_id.clone())
    .bind(job.org_id.clone())
    .bind(job.device_id.clone())
    .bind(scan.nonce.clone())
    .bind(list.id.clone())
    .bind(found.ticket_id().map(str::to_string))
    .bind(scan.gate.clone())
    .bind(scan.direction.clone())
    .bind(at)
    .bind(i64::from(scan.device_result.is_some()))
    .bind(scan.device_result.clone())
    .bind(now)
    .bind(scan.request_hash.clone())
    .execute(&mut **tx)
    .await?;
    if claimed.rows_affected() == 0 {
        // The same nonce again (a retry, or twice in this batch): the first answer, if it is
        // the same scan (rows from before hashes were kept are taken as the same).
        let (stored, hash): (String, Option<String>) = sqlx::query_as(
            "SELECT answer_json, request_hash FROM scans WHERE device_id = $1 AND nonce = $2",
        )
        .bind(job.device_id.clone())
        .bind(scan.nonce.clone())
        .fetch_one(&mut **tx)
        .await?;
        let answer = serde_json::from_str(&stored).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        return Ok(Decided {
            answer,
            replayed: true,
            reused: hash.is_some_and(|h| h != scan.request_hash),
        });
    }
    // Still this code, still valid, now that the batch holds the ticket.
    let current = ticket.is_some_and(|t| current_codes.get(t.id.as_str()) == Some(&t.code));
    let mut first_scan = None;
    let result = match (found, ticket, ticket.and_then(|t| refusal(t, list, at))) {
        (Found::Revoked(_), _, _) => ScanResult::Revoked,
        (Found::Unknown, _, _) | (_, None, _) => ScanResult::Unknown,
        (_, _, Some(refused)) => refused,
        (_, Some(_), None) if !current => ScanResult::Revoked,
        (_, Some(t), None) if scan.direction == "out" => {
            let left = sqlx::query(
                "UPDATE ticket_checkins SET inside = 0, last_at = $1 WHERE ticket_id = $2 AND list_id = $3 AND inside = 1",
            )
            .bind(at)
            .bind(t.id.clone())
            .bind(list.id.clone())
            .execute(&mut **tx)
            .await?;
            if left.rows_affected() == 1 {
                ScanResult::Exited
            } else {
                ScanResult::NotInside
            }
        }
        (_, Some(t), None) => {
            let entered = sqlx::query(
                "INSERT INTO ticket_checkins (ticket_id, list_id, inside, first_scan_id, first_at, first_gate, last_at) \
                 VALUES ($1, $2, 1, $3, $4, $5, $4) ON CONFLICT (ticket_id, list_id) DO NOTHING",
            )
            .bind(t.id.clone())
            .bind(list.id.clone())
            .bind(scan_id.clone())
            .bind(at)
            .bind(scan.gate.clone())
            .execute(&mut **tx)
            .await?;
            let reentered = entered.rows_affected() == 0
                && list.allow_reentry != 0
                && sqlx::query(
                    "UPDATE ticket_checkins SET inside = 1, last_at = $1 WHERE ticket_id = $2 AND list_id = $3 AND inside = 0",
                )
                .bind(at)
                .bind(t.id.clone())
                .bind(list.id.clone())
                .execute(&mut **tx)
                .await?
                .rows_affected()
                    == 1;
            if entered.rows_affected() == 1 || reentered {
                ScanResult::Valid
            } else {
                let (first_at, first_gate): (i64, String) = sqlx::query_as(
                    "SELECT first_at, first_gate FROM ticket_checkins WHERE ticket_id = $1 AND list_id = $2",
                )
                .bind(t.id.clone())
                .bind(list.id.clone())
                .fetch_one(&mut **tx)
                .await?;
                first_scan = Some(FirstScan {
                    at: rfc3339(first_at),
                    gate: first_gate,
                });
                ScanResult::AlreadyUsed
            }
        }
    };
    // A device that let someone in offline whom the server refuses: two people on one
    // ticket, a revoked code used, or a code the server does not know. Kept for the staff.
    let conflict = scan.device_result.as_deref() == Some(ScanResult::Valid.as_str())
        && scan.direction == "in"
        && result != ScanResult::Valid;
    if conflict {
        sqlx::query(
            "INSERT INTO scan_conflicts (id, organization_id, event_id, list_id, ticket_id, scan_id, kind, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(new_id())
        .bind(job.org_id.clone())
        .bind(list.event_id.clone())
        .bind(list.id.clone())
        .bind(found.ticket_id().map(str::to_string))
        .bind(scan_id.clone())
        .bind(result.as_str().to_string())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    let answer = ScanAnswer {
        result,
        // Nothing about a ticket of another organization or another event leaks.
        ticket: if matches!(
            result,
            ScanResult::Unknown | ScanResult::WrongEvent | ScanResult::Revoked
        ) {
            None
        } else {
            described
        },
        first_scan,
        conflict,
        scan_id: scan_id.clone(),
    };
    sqlx::query("UPDATE scans SET result = $1, answer_json = $2 WHERE id = $3")
        .bind(result.as_str().to_string())
        .bind(json!(answer).to_string())
        .bind(scan_id)
        .execute(&mut **tx)
        .await?;
    Ok(Decided {
        answer,
        replayed: false,
        reused: false,
    })
}
