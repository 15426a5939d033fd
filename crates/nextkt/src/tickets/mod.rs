//! Tickets: issued when an order is paid, one per admitted person, each with an
//! unguessable code and a QR payload signed with the event's key; shown to anyone holding
//! the code at `/t/{code}`.

pub mod page;
pub mod qr;
pub mod signing;
pub mod transfer;

use base64::Engine;
use rand::RngCore;
use serde::Serialize;
use utoipa::ToSchema;

use crate::inventory::convert::Claimed;
use crate::platform::clock::{Millis, opt_rfc3339, rfc3339};
use crate::platform::db::{Db, Tx};
use crate::platform::ids::new_id;

/// 256 random bits, URL-safe.
pub fn new_code() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketRow {
    pub id: String,
    pub organization_id: String,
    pub event_id: String,
    pub order_id: String,
    pub ticket_type_id: String,
    pub seat_id: Option<String>,
    pub code: String,
    pub holder_name: String,
    pub holder_email: String,
    pub key_id: String,
    pub qr_payload: String,
    pub status: String,
    pub created_at: i64,
    pub voided_at: Option<i64>,
    pub transferred_at: Option<i64>,
    pub livemode: i64,
}

pub const TICKET_COLUMNS: &str = "id, organization_id, event_id, order_id, ticket_type_id, seat_id, code, \
    holder_name, holder_email, key_id, qr_payload, status, created_at, voided_at, transferred_at, livemode";

/// `TICKET_COLUMNS` qualified with a table alias, for queries that join tickets.
pub fn ticket_columns_of(alias: &str) -> String {
    TICKET_COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the attendee search matches: the holder's name and email, lower-cased letter by
/// letter (no context rules such as Greek final sigma, so a query lower-cased the same way
/// is always a substring of what it should match).
pub fn holder_search(name: &str, email: &str) -> String {
    search_fold(&format!("{name} {email}"))
}

/// Lower-cases letter by letter.
pub fn search_fold(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

/// Fills in the search text of tickets issued before it existed; run after migrating. Done
/// once: later calls only read the note that it was.
pub async fn backfill_search(db: &Db) -> Result<u64, sqlx::Error> {
    const FIX: &str = "tickets.holder_search";
    let done: Option<String> = sqlx::query_scalar("SELECT name FROM data_fixes WHERE name = $1")
        .bind(FIX)
        .fetch_optional(&db.pool)
        .await?;
    if done.is_some() {
        return Ok(0);
    }
    let mut filled = 0;
    loop {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT id, holder_name, holder_email FROM tickets WHERE holder_search = '' LIMIT 1000",
        )
        .fetch_all(&db.pool)
        .await?;
        if rows.is_empty() {
            sqlx::query("INSERT INTO data_fixes (name, done_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(FIX)
                .bind(crate::platform::clock::Clock::now_ms(&crate::platform::clock::SystemClock))
                .execute(&db.pool)
                .await?;
            return Ok(filled);
        }
        let mut tx = db.begin().await?;
        for (id, name, email) in rows {
            sqlx::query("UPDATE tickets SET holder_search = $1 WHERE id = $2")
                .bind(holder_search(&name, &email))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            filled += 1;
        }
        tx.commit().await?;
    }
}

/// Whose tickets, for which order.
pub struct Issue<'a> {
    pub org_id: &'a str,
    pub event_id: &'a str,
    pub order_id: &'a str,
    pub holder_name: &'a str,
    pub holder_email: &'a str,
    /// False for a test order's tickets (no real money moved).
    pub livemode: bool,
}

/// Issues one ticket per claimed unit or seat, in the caller's transaction.
pub async fn issue(
    db: &Db,
    tx: &mut Tx,
    to: Issue<'_>,
    claimed: &[Claimed],
    now: Millis,
) -> Result<Vec<TicketRow>, sqlx::Error> {
    let Issue {
        org_id,
        event_id,
        order_id,
        holder_name,
        holder_email,
        livemode,
    } = to;
    let livemode = i64::from(livemode);
    let key = signing::current(db, tx, org_id, event_id, now).await?;
    let mut tickets = Vec::with_capacity(claimed.len());
    for claim in claimed {
        let ticket = TicketRow {
            id: new_id(),
            organization_id: org_id.to_string(),
            event_id: event_id.to_string(),
            order_id: order_id.to_string(),
            ticket_type_id: claim.ticket_type_id.clone(),
            seat_id: claim.seat_id.clone(),
            code: new_code(),
            holder_name: holder_name.to_string(),
            holder_email: holder_email.to_string(),
            key_id: key.id.clone(),
            qr_payload: String::new(),
            status: "valid".into(),
            created_at: now,
            voided_at: None,
            transferred_at: None,
            livemode,
        };
        let ticket = TicketRow {
            qr_payload: key.sign(event_id, &ticket.id, &ticket.code),
            ..ticket
        };
        sqlx::query(
            "INSERT INTO tickets (id, organization_id, event_id, order_id, ticket_type_id, seat_id, code, \
             holder_name, holder_email, key_id, qr_payload, status, created_at, holder_search, livemode) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'valid', $12, $13, $14)",
        )
        .bind(ticket.id.clone())
        .bind(ticket.organization_id.clone())
        .bind(ticket.event_id.clone())
        .bind(ticket.order_id.clone())
        .bind(ticket.ticket_type_id.clone())
        .bind(ticket.seat_id.clone())
        .bind(ticket.code.clone())
        .bind(ticket.holder_name.clone())
        .bind(ticket.holder_email.clone())
        .bind(ticket.key_id.clone())
        .bind(ticket.qr_payload.clone())
        .bind(now)
        .bind(holder_search(holder_name, holder_email))
        .bind(livemode)
        .execute(&mut **tx)
        .await?;
        tickets.push(ticket);
    }
    Ok(tickets)
}

/// Voids a valid ticket for a refund, in the caller's transaction. `released` notes that its
/// unit or seat goes back on sale (the inventory auditor then stops counting it as issued).
/// False when the ticket is no longer valid.
pub async fn void(
    tx: &mut Tx,
    ticket_id: &str,
    refund_id: &str,
    released: bool,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE tickets SET status = 'void', voided_at = $1, refund_id = $2, \
         inventory_released_at = CASE WHEN $3 = 1 THEN $1 ELSE NULL END WHERE id = $4 AND status = 'valid'",
    )
    .bind(now)
    .bind(refund_id.to_string())
    .bind(i64::from(released))
    .bind(ticket_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A ticket as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ticket {
    pub id: String,
    /// Absent once the ticket has been transferred to someone else (only they get it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub event_id: String,
    pub order_id: String,
    pub ticket_type_id: String,
    pub seat_id: Option<String>,
    /// Absent once transferred: who holds it now is not the buyer's to know.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder_name: Option<String>,
    /// `valid` or `void`.
    pub status: String,
    /// The public page of the ticket (absent once transferred).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The signed text the QR code holds (absent once transferred).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_payload: Option<String>,
    /// Whether the ticket has moved to a new holder.
    pub transferred: bool,
    pub created_at: String,
    pub voided_at: Option<String>,
    /// False for a test ticket: its order was paid through the simulated provider (no money
    /// moved) or made with a test storefront key.
    pub livemode: bool,
}

impl TicketRow {
    /// As the order's buyer sees it: a transferred ticket's code is not theirs any more.
    pub fn to_api(&self, base_url: &str) -> Ticket {
        let mut ticket = self.to_holder_api(base_url);
        if self.transferred_at.is_some() {
            ticket.holder_name = None;
            ticket.code = None;
            ticket.url = None;
            ticket.qr_payload = None;
        }
        ticket
    }

    /// As its current holder (or an operator) sees it.
    pub fn to_holder_api(&self, base_url: &str) -> Ticket {
        Ticket {
            id: self.id.clone(),
            code: Some(self.code.clone()),
            event_id: self.event_id.clone(),
            order_id: self.order_id.clone(),
            ticket_type_id: self.ticket_type_id.clone(),
            seat_id: self.seat_id.clone(),
            holder_name: Some(self.holder_name.clone()),
            status: self.status.clone(),
            url: Some(format!("{base_url}/t/{}", self.code)),
            qr_payload: Some(self.qr_payload.clone()),
            transferred: self.transferred_at.is_some(),
            created_at: rfc3339(self.created_at),
            voided_at: opt_rfc3339(self.voided_at),
            livemode: self.livemode != 0,
        }
    }
}

pub async fn of_order(db: &Db, order_id: &str) -> Result<Vec<TicketRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TICKET_COLUMNS} FROM tickets WHERE order_id = $1 ORDER BY id"
    )))
    .bind(order_id.to_string())
    .fetch_all(&db.pool)
    .await
}
