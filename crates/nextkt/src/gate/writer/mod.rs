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
//!
//! This file holds the queues and the batching loop; `decide` holds what a batch does in
//! its transaction.

mod decide;

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use super::lists::ListRow;
use super::scan::{Found, Scan, ScanAnswer};
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Dialect};
use crate::platform::error::{ApiError, ApiResult};

pub use decide::Decided;
use decide::decide_all;

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
    metrics::counter!("nextkt_scans_total", "result" => answer.result.as_str()).increment(1);
    if answer.conflict {
        metrics::counter!("nextkt_scan_conflicts_total").increment(1);
        tracing::warn!(list = %decision.list.id, scan = %answer.scan_id, result = %answer.result,
            "a device admitted offline someone the server refuses");
    }
}
