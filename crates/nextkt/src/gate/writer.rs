//! The scan writers: tasks that decide and record scans in batches. Scans are resolved
//! (code, signature, ticket) concurrently by their requests; what must be serialised —
//! taking the nonce, the ticket's first entry on a list, the answer — happens here, many
//! scans to a transaction, so a burst at the doors costs one commit per batch rather than
//! one per scan. A ticket always goes to the same writer, so its scans are decided in
//! arrival order and two writers never wait on each other's rows. SQLite has one writer
//! (it takes one write transaction at a time anyway); PostgreSQL has four, which overlap
//! their round trips. A batch that fails is retried one scan per transaction so one bad
//! scan cannot sink others. Across processes the `(ticket, list)` key of `ticket_checkins`
//! keeps the first entry unique.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::lists::ListRow;
use super::scan::{FirstScan, Found, Scan, ScanAnswer, nonce_reused, refusal};
use crate::platform::clock::{Millis, rfc3339};
use crate::platform::db::{Db, Dialect, Tx, placeholder_list};
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::ids::new_id;

/// Most scans decided in one transaction.
const MAX_BATCH: usize = 256;

/// A resolved scan, ready to be decided.
pub struct Decision {
    pub org_id: String,
    pub device_id: String,
    pub scan: Scan,
    pub list: ListRow,
    pub found: Found,
    pub now: Millis,
}

type Job = (Decision, oneshot::Sender<ApiResult<ScanAnswer>>);
/// A queued scan's answer, to be awaited.
pub type Answer = oneshot::Receiver<ApiResult<ScanAnswer>>;

pub struct ScanWriter {
    db: Db,
    queues: Vec<Mutex<Option<mpsc::UnboundedSender<Job>>>>,
}

impl ScanWriter {
    pub fn new(db: Db) -> Arc<Self> {
        let writers = match db.dialect {
            Dialect::Sqlite => 1,
            Dialect::Postgres => 4,
        };
        Arc::new(Self {
            db,
            queues: (0..writers).map(|_| Mutex::new(None)).collect(),
        })
    }

    /// Decides the scan in its writer's next batch; answers after the commit.
    pub async fn decide(&self, decision: Decision) -> ApiResult<ScanAnswer> {
        Self::answer(self.submit(decision)?).await
    }

    /// Queues the scan; scans queued one after another are decided in that order.
    pub fn submit(&self, decision: Decision) -> ApiResult<Answer> {
        let mut hasher = DefaultHasher::new();
        match decision.found.ticket_id() {
            Some(id) => id.hash(&mut hasher),
            None => decision.scan.nonce.hash(&mut hasher),
        }
        let writer = (hasher.finish() % self.queues.len() as u64) as usize;
        let (reply, answer) = oneshot::channel();
        self.queue(writer)
            .send((decision, reply))
            .map_err(|_| ApiError::internal(anyhow::anyhow!("scan writer stopped")))?;
        Ok(answer)
    }

    /// Waits for a queued scan's answer.
    pub async fn answer(answer: Answer) -> ApiResult<ScanAnswer> {
        answer
            .await
            .map_err(|_| ApiError::internal(anyhow::anyhow!("scan writer dropped a scan")))?
    }

    /// A writer's queue, started on first use (inside the server's runtime).
    fn queue(&self, writer: usize) -> mpsc::UnboundedSender<Job> {
        let mut queue = self.queues[writer]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(q) = queue.as_ref().filter(|q| !q.is_closed()) {
            return q.clone();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(work(self.db.clone(), rx));
        *queue = Some(tx.clone());
        tx
    }
}

async fn work(db: Db, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut batch: Vec<Job> = Vec::new();
    while let Some(job) = rx.recv().await {
        batch.push(job);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        metrics::histogram!("nextkt_scan_batch_size").record(batch.len() as f64);
        let decisions: Vec<&Decision> = batch.iter().map(|(d, _)| d).collect();
        match decide_all(&db, &decisions).await {
            Ok(answers) => {
                for ((decision, reply), decided) in batch.drain(..).zip(answers) {
                    observe(&decision, &decided);
                    let _ = reply.send(decided.into_result());
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, scans = batch.len(), "scan batch failed; deciding one by one");
                for (decision, reply) in batch.drain(..) {
                    let decided = decide_all(&db, &[&decision])
                        .await
                        .map(|mut a| a.remove(0))
                        .map_err(ApiError::from);
                    if let Ok(decided) = &decided {
                        observe(&decision, decided);
                    }
                    let _ = reply.send(decided.and_then(Decided::into_result));
                }
            }
        }
    }
}

/// Counts a scan once: a replayed nonce was counted when first decided.
fn observe(decision: &Decision, decided: &Decided) {
    if decided.replayed {
        return;
    }
    let answer = &decided.answer;
    metrics::counter!("nextkt_scans_total", "result" => answer.result.clone()).increment(1);
    if answer.conflict {
        metrics::counter!("nextkt_scan_conflicts_total").increment(1);
        tracing::warn!(list = %decision.list.id, scan = %answer.scan_id, result = %answer.result,
            "a device admitted offline someone the server refuses");
    }
}

async fn decide_all(db: &Db, decisions: &[&Decision]) -> Result<Vec<Decided>, sqlx::Error> {
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
    fn into_result(self) -> ApiResult<ScanAnswer> {
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
    let current = ticket.is_some_and(|t| current_codes.get(&t.id) == Some(&t.code));
    let mut first_scan = None;
    let result: &str = match (found, ticket, ticket.and_then(|t| refusal(t, list, at))) {
        (Found::Revoked(_), _, _) => "revoked",
        (Found::Unknown, _, _) | (_, None, _) => "unknown",
        (_, _, Some(refused)) => refused,
        (_, Some(_), None) if !current => "revoked",
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
                "exited"
            } else {
                "not_inside"
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
                "valid"
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
                "already_used"
            }
        }
    };
    // A device that let someone in offline whom the server refuses: two people on one
    // ticket, a revoked code used, or a code the server does not know. Kept for the staff.
    let conflict = scan.device_result.as_deref() == Some("valid")
        && scan.direction == "in"
        && result != "valid";
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
        .bind(result.to_string())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
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
        .execute(&mut **tx)
        .await?;
    Ok(Decided {
        answer,
        replayed: false,
        reused: false,
    })
}
