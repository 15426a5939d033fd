//! Transfer (reassign): a ticket moves to a new holder. The ticket keeps its id and its
//! inventory claim (so it works on a sold-out event); its code and QR change, the old code
//! is revoked at once (online scans answer `revoked`, the next offline bundle lists it), the
//! new holder is emailed, and every move is kept in `ticket_transfers`. Buyers may transfer
//! when the event allows it, until its cutoff, and not once the ticket has been used;
//! operators always may.
//!
//! `handlers` parses and authorizes, `service` holds the rules and the transaction, `store`
//! the SQL.

mod handlers;
mod service;
mod store;

use serde::Serialize;
use utoipa::ToSchema;

// A glob, so the `__path_*` items of the handlers come along for the router's `routes!`.
pub use handlers::*;

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct TransferRecord {
    pub id: String,
    pub from_name: String,
    pub from_email: String,
    pub to_name: String,
    pub to_email: String,
    /// `operator`, `api_key`, `partner` or `buyer`.
    pub by_kind: String,
    pub by_id: String,
    #[serde(skip)]
    pub created_at: i64,
    #[sqlx(skip)]
    pub at: String,
}
