//! General-admission reservations, coalesced. Requests for one ticket type queue up for
//! that type's worker, which takes everything waiting (up to `MAX_BATCH`) and decides it in
//! one transaction: lock the pool row, sweep its expired holds, grant requests in arrival
//! order while stock lasts, write all the new holds, update the counter, commit. Only then
//! is any request answered. A crash before the commit answers nobody and writes nothing;
//! the pool row lock makes batches from several processes take turns.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::carts::{self, NewCart};
use super::{pools, store};
use crate::catalog::events::{EventRow, Visibility};
use crate::catalog::ticket_types::{self, TicketTypeRow};
use crate::ids::{BuyerId, EventId, OrgId, TicketTypeId};
use crate::platform::clock::{Millis, SharedClock};
use crate::platform::db::Db;
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::ids::new_id;

// Seat reservations count a buyer's holds the same way.
pub use super::store::buyer_totals_locked;

/// The most requests decided in one transaction.
pub const MAX_BATCH: usize = 1024;
/// A ticket type's worker stops after this long without requests.
const IDLE: Duration = Duration::from_secs(30);

/// Where the new hold goes.
#[derive(Debug, Clone)]
pub enum CartRef {
    Existing(String),
    /// A cart created together with its first hold.
    New {
        id: String,
        token_hash: String,
    },
}

impl CartRef {
    pub fn id(&self) -> &str {
        match self {
            CartRef::Existing(id) | CartRef::New { id, .. } => id,
        }
    }
}

#[derive(Debug, Clone)]
pub struct GaRequest {
    pub org_id: OrgId,
    pub event_id: EventId,
    pub ticket_type_id: TicketTypeId,
    pub quantity: i64,
    pub cart: CartRef,
    pub buyer_id: Option<BuyerId>,
    /// Grow this hold of the cart instead of making a new one.
    pub grow_hold_id: Option<String>,
    pub unlock_code: Option<String>,
    pub access_key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Reserved {
    pub hold_id: String,
    pub cart_id: String,
    /// The hold's quantity after this request.
    pub quantity: i64,
    pub expires_at: Millis,
}

type Job = (GaRequest, oneshot::Sender<ApiResult<Reserved>>);

/// Rules of the event and ticket type a batch is decided against.
pub struct Terms {
    pub event: EventRow,
    pub ticket_type: TicketTypeRow,
}

/// Checks that do not depend on stock: tenant, event, visibility, sale windows, unlock.
pub fn check_terms(terms: &Terms, req: &GaRequest, now: Millis) -> ApiResult<()> {
    let (event, tt) = (&terms.event, &terms.ticket_type);
    if tt.organization_id != req.org_id
        || tt.event_id != req.event_id
        || event.organization_id != req.org_id
    {
        return Err(ApiError::not_found("ticket type"));
    }
    if event.visibility() == Visibility::Private
        && req.access_key.as_deref() != event.access_key.as_deref()
    {
        return Err(ApiError::not_found("event"));
    }
    if !tt.unlocked_by(req.unlock_code.as_deref()) {
        return Err(ApiError::not_found("ticket type"));
    }
    if tt.kind != "ga" {
        return Err(ApiError::bad_request(
            "seated_ticket_type",
            "choose seats for this ticket type",
        ));
    }
    event.on_sale(now)?;
    tt.on_sale(now)
}

/// Per-order and per-buyer limits, given what the cart and buyer hold already.
pub fn check_limits(
    terms: &Terms,
    quantity: i64,
    line_total: i64,
    cart_total: i64,
    buyer_total: Option<i64>,
) -> ApiResult<()> {
    let tt = &terms.ticket_type;
    if let Some(max) = tt.max_per_order
        && line_total > max
    {
        return Err(ApiError::rule(
            "limit_exceeded",
            format!("at most {max} of this ticket type per order"),
        ));
    }
    if line_total < tt.min_per_order {
        return Err(ApiError::rule(
            "below_minimum",
            format!(
                "at least {} of this ticket type per order",
                tt.min_per_order
            ),
        ));
    }
    if let Some(max) = terms.event.max_per_order
        && cart_total + quantity > max
    {
        return Err(ApiError::rule(
            "limit_exceeded",
            format!("at most {max} tickets per order"),
        ));
    }
    if let (Some(max), Some(held)) = (terms.event.max_per_buyer, buyer_total)
        && held + quantity > max
    {
        return Err(ApiError::rule(
            "limit_exceeded",
            format!("at most {max} tickets per buyer"),
        ));
    }
    Ok(())
}

/// How a decision learns what is left.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// From the pool's counters (the real path).
    Counters,
    /// By summing the live holds on every decision, as a naive implementation does. For the
    /// benchmark's baseline only.
    SumOfHolds,
}

/// Decides a batch for one ticket type in one transaction. Answers line up with `requests`.
/// One span per batch; nothing inside the batch is instrumented.
#[tracing::instrument(skip_all, fields(ticket_type = ticket_type_id, batch = requests.len()))]
pub async fn decide(
    db: &Db,
    ticket_type_id: &str,
    requests: &[GaRequest],
    now: Millis,
) -> Vec<ApiResult<Reserved>> {
    decide_with(db, ticket_type_id, requests, now, Counting::Counters).await
}

/// The deliberately naive path the benchmark compares against: one locking transaction per
/// request, availability recounted from the holds each time.
pub async fn decide_naive(db: &Db, request: &GaRequest, now: Millis) -> ApiResult<Reserved> {
    decide_with(
        db,
        &request.ticket_type_id,
        std::slice::from_ref(request),
        now,
        Counting::SumOfHolds,
    )
    .await
    .remove(0)
}

async fn decide_with(
    db: &Db,
    ticket_type_id: &str,
    requests: &[GaRequest],
    now: Millis,
    counting: Counting,
) -> Vec<ApiResult<Reserved>> {
    match decide_inner(db, ticket_type_id, requests, now, counting).await {
        Ok(answers) => answers,
        Err(err) => {
            let err = Arc::new(err);
            requests
                .iter()
                .map(|_| {
                    Err(ApiError::internal(anyhow::anyhow!(
                        "reservation batch failed: {err}"
                    )))
                })
                .collect()
        }
    }
}

async fn load_terms(db: &Db, ticket_type_id: &str) -> ApiResult<Option<Terms>> {
    let Some(tt) = ticket_types::find_any(db, ticket_type_id).await? else {
        return Ok(None);
    };
    let event = crate::catalog::events::find(db, &tt.organization_id, &tt.event_id).await?;
    Ok(Some(Terms {
        event,
        ticket_type: tt,
    }))
}

async fn decide_inner(
    db: &Db,
    ticket_type_id: &str,
    requests: &[GaRequest],
    now: Millis,
    counting: Counting,
) -> anyhow::Result<Vec<ApiResult<Reserved>>> {
    let Some(terms) = load_terms(db, ticket_type_id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    else {
        return Ok(requests
            .iter()
            .map(|_| Err(ApiError::not_found("ticket type")))
            .collect());
    };
    let mut answers: Vec<Option<ApiResult<Reserved>>> = requests
        .iter()
        .map(|req| check_terms(&terms, req, now).err().map(Err))
        .collect();
    if answers.iter().all(Option::is_some) {
        return Ok(answers
            .into_iter()
            .map(|a| a.unwrap_or_else(unreachable_answer))
            .collect());
    }

    let mut tx = db.begin().await?;
    let Some(pool) = pools::lock_live(db, &mut tx, ticket_type_id, now).await? else {
        return Ok(requests
            .iter()
            .map(|_| Err(ApiError::not_found("ticket type")))
            .collect());
    };
    let mut available = match counting {
        Counting::Counters => pool.left(),
        Counting::SumOfHolds => {
            let live = store::live_ga_units(&mut tx, ticket_type_id, now).await?;
            pool.capacity - live - pool.sold
        }
    };

    // What the carts and buyers in this batch hold already (live holds only).
    let existing_carts: Vec<&str> = requests
        .iter()
        .zip(&answers)
        .filter(|(_, a)| a.is_none())
        .filter_map(|(r, _)| match &r.cart {
            CartRef::Existing(id) => Some(id.as_str()),
            CartRef::New { .. } => None,
        })
        .collect();
    let mut cart_lines: HashMap<(String, TicketTypeId), i64> = HashMap::new();
    let mut cart_totals: HashMap<String, i64> = HashMap::new();
    if !existing_carts.is_empty() {
        let mut ids = existing_carts.clone();
        ids.sort_unstable();
        ids.dedup();
        // Lock the carts (in id order, so batches never wait on each other in a cycle):
        // limits per order stay exact across ticket types.
        store::lock_carts(db, &mut tx, &ids).await?;
        for (cart, tt, n) in store::live_lines_of_carts(db, &mut tx, &ids, now).await? {
            *cart_totals.entry(cart.clone()).or_default() += n;
            cart_lines.insert((cart, tt), n);
        }
    }
    let mut buyer_totals: HashMap<BuyerId, i64> = HashMap::new();
    let mut buyers: Vec<&str> = requests
        .iter()
        .filter_map(|r| r.buyer_id.as_deref())
        .collect();
    if terms.event.max_per_buyer.is_some() && !buyers.is_empty() {
        buyers.sort_unstable();
        buyers.dedup();
        buyer_totals = buyer_totals_locked(db, &mut tx, &terms.event.id, &buyers, now).await?;
    }

    let expires_at = now + terms.event.hold_seconds * 1000;
    let mut granted = 0i64;
    let mut new_holds: Vec<(usize, String)> = Vec::new();
    for (i, req) in requests.iter().enumerate() {
        if answers[i].is_some() {
            continue;
        }
        let cart_id = req.cart.id().to_string();
        let line_key = (cart_id.clone(), req.ticket_type_id.clone());
        let line = cart_lines.get(&line_key).copied().unwrap_or(0);
        let cart_total = cart_totals.get(&cart_id).copied().unwrap_or(0);
        let buyer_total = req
            .buyer_id
            .as_ref()
            .map(|b| buyer_totals.get(b).copied().unwrap_or(0));
        // A grown hold is one line: its own quantity is the line's (other holds of the same
        // type in the cart do not exist: adding to a line grows its hold).
        let answer = match check_limits(
            &terms,
            req.quantity,
            line + req.quantity,
            cart_total,
            buyer_total,
        ) {
            Err(err) => Err(err),
            Ok(()) if available < req.quantity => Err(if available <= 0 {
                ApiError::conflict("sold_out", "this ticket type is sold out")
            } else {
                ApiError::conflict("not_enough_left", format!("only {available} left"))
            }),
            Ok(()) => {
                available -= req.quantity;
                granted += req.quantity;
                *cart_lines.entry(line_key).or_default() += req.quantity;
                *cart_totals.entry(cart_id.clone()).or_default() += req.quantity;
                if let Some(b) = &req.buyer_id {
                    *buyer_totals.entry(b.clone()).or_default() += req.quantity;
                }
                match &req.grow_hold_id {
                    Some(hold_id) => {
                        let grown = store::grow_hold(
                            &mut tx,
                            hold_id,
                            &cart_id,
                            &req.ticket_type_id,
                            req.quantity,
                            now,
                        )
                        .await?;
                        match grown {
                            Some((quantity, expires_at)) => Ok(Reserved {
                                hold_id: hold_id.clone(),
                                cart_id,
                                quantity,
                                expires_at,
                            }),
                            None => {
                                available += req.quantity;
                                granted -= req.quantity;
                                Err(ApiError::conflict(
                                    "hold_expired",
                                    "this cart item has expired",
                                ))
                            }
                        }
                    }
                    None => {
                        let hold_id = new_id();
                        new_holds.push((i, hold_id.clone()));
                        Ok(Reserved {
                            hold_id,
                            cart_id,
                            quantity: req.quantity,
                            expires_at,
                        })
                    }
                }
            }
        };
        answers[i] = Some(answer);
    }

    // New carts, then new holds, many rows per statement.
    let new_carts: Vec<NewCart> = new_holds
        .iter()
        .filter_map(|(i, _)| {
            let req = &requests[*i];
            match &req.cart {
                CartRef::New { id, token_hash } => Some(NewCart {
                    id,
                    org_id: &req.org_id,
                    event_id: &req.event_id,
                    token_hash,
                    buyer_id: req.buyer_id.as_deref(),
                }),
                CartRef::Existing(_) => None,
            }
        })
        .collect();
    for chunk in new_carts.chunks(500) {
        carts::create_many(&mut tx, chunk, now).await?;
    }
    let rows: Vec<(&GaRequest, &str)> = new_holds
        .iter()
        .map(|(i, id)| (&requests[*i], id.as_str()))
        .collect();
    for chunk in rows.chunks(500) {
        store::insert_holds(&mut tx, chunk, expires_at, now).await?;
    }
    if granted != 0 {
        let new_expiry = (!new_holds.is_empty()).then_some(expires_at);
        pools::add_held(&mut tx, ticket_type_id, granted, new_expiry, now).await?;
    }
    tx.commit().await?;
    metrics::histogram!("nextkt_reservation_batch_size").record(requests.len() as f64);
    Ok(answers
        .into_iter()
        .map(|a| a.unwrap_or_else(unreachable_answer))
        .collect())
}

fn unreachable_answer() -> ApiResult<Reserved> {
    Err(ApiError::internal(anyhow::anyhow!(
        "reservation left undecided"
    )))
}

/// The coalescer: one queue and one worker per ticket type with requests in flight.
pub struct Reserver {
    db: Db,
    clock: SharedClock,
    queues: Mutex<HashMap<String, mpsc::UnboundedSender<Job>>>,
}

impl Reserver {
    pub fn new(db: Db, clock: SharedClock) -> Arc<Self> {
        Arc::new(Self {
            db,
            clock,
            queues: Mutex::new(HashMap::new()),
        })
    }

    /// Reserves through the batch of the request's ticket type; answers after the commit.
    pub async fn reserve(self: &Arc<Self>, req: GaRequest) -> ApiResult<Reserved> {
        let started = Instant::now();
        // A worker that just went idle may drop a request it never saw; send it again.
        for _ in 0..3 {
            let (tx, rx) = oneshot::channel();
            let queue = self.queue(&req.ticket_type_id);
            if queue.send((req.clone(), tx)).is_err() {
                self.forget(&req.ticket_type_id);
                continue;
            }
            if let Ok(answer) = rx.await {
                let outcome = match &answer {
                    Ok(_) => "held",
                    Err(e) => e.code,
                };
                metrics::counter!("nextkt_reservations_total", "outcome" => outcome).increment(1);
                metrics::histogram!("nextkt_reservation_seconds")
                    .record(started.elapsed().as_secs_f64());
                return answer;
            }
        }
        Err(ApiError::internal(anyhow::anyhow!(
            "reservation worker unavailable"
        )))
    }

    fn forget(&self, ticket_type_id: &str) {
        if let Ok(mut queues) = self.queues.lock() {
            queues.remove(ticket_type_id);
        }
    }

    fn queue(self: &Arc<Self>, ticket_type_id: &str) -> mpsc::UnboundedSender<Job> {
        let mut queues = self
            .queues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(queue) = queues.get(ticket_type_id)
            && !queue.is_closed()
        {
            return queue.clone();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        queues.insert(ticket_type_id.to_string(), tx.clone());
        tokio::spawn(self.clone().work(ticket_type_id.to_string(), rx));
        tx
    }

    async fn work(self: Arc<Self>, ticket_type_id: String, mut rx: mpsc::UnboundedReceiver<Job>) {
        let mut batch: Vec<Job> = Vec::new();
        loop {
            match tokio::time::timeout(IDLE, rx.recv()).await {
                Ok(Some(job)) => batch.push(job),
                Ok(None) => return,
                Err(_) => {
                    // Idle: leave, unless a request slipped in meanwhile.
                    let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
                    if rx.is_empty() {
                        queues.remove(&ticket_type_id);
                        return;
                    }
                    continue;
                }
            }
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let requests: Vec<GaRequest> = batch.iter().map(|(r, _)| r.clone()).collect();
            let answers = decide(&self.db, &ticket_type_id, &requests, self.clock.now_ms()).await;
            for ((_, reply), answer) in batch.drain(..).zip(answers) {
                let _ = reply.send(answer);
            }
        }
    }
}
