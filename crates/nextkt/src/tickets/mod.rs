//! Tickets: issued when an order is paid, one per admitted person, each with an
//! unguessable code and a QR payload signed with the event's key; shown to anyone holding
//! the code at `/t/{code}`.
//!
//! `issuance` issues and voids tickets in the caller's transaction, `store` holds the SQL
//! of the `tickets` table; `page`, `transfer` and `signing` are split the same way.

pub mod page;
pub mod qr;
pub mod signing;
pub mod transfer;

mod issuance;
mod status;
mod store;

use crate::ids::{EventId, TicketId};
use base64::Engine;
use rand::RngCore;
use serde::Serialize;
use utoipa::ToSchema;

use crate::platform::clock::{opt_rfc3339, rfc3339};

pub use issuance::{Issue, backfill_search, issue, void};
pub use status::{TicketStatus, UnknownStatus};
pub use store::of_order;

/// 256 random bits, URL-safe.
pub fn new_code() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketRow {
    pub id: TicketId,
    pub organization_id: String,
    pub event_id: EventId,
    pub order_id: String,
    pub ticket_type_id: String,
    pub seat_id: Option<String>,
    pub code: String,
    pub holder_name: String,
    pub holder_email: String,
    pub key_id: String,
    pub qr_payload: String,
    #[sqlx(try_from = "String")]
    pub status: TicketStatus,
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
            id: self.id.to_string(),
            code: Some(self.code.clone()),
            event_id: self.event_id.to_string(),
            order_id: self.order_id.clone(),
            ticket_type_id: self.ticket_type_id.clone(),
            seat_id: self.seat_id.clone(),
            holder_name: Some(self.holder_name.clone()),
            status: self.status.as_str().to_string(),
            url: Some(format!("{base_url}/t/{}", self.code)),
            qr_payload: Some(self.qr_payload.clone()),
            transferred: self.transferred_at.is_some(),
            created_at: rfc3339(self.created_at),
            voided_at: opt_rfc3339(self.voided_at),
            livemode: self.livemode != 0,
        }
    }
}
