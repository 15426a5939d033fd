//! Refunds by operators: a whole order, some of its tickets, or an amount. Tickets refunded
//! are voided at once (their page says so; scanners refuse them); their units or seats go
//! back on sale when the operator chooses; points earned on the refunded part are taken
//! back and points spent on it returned. The money goes back through the provider that took
//! it (payments/refunds.rs), tracked until the provider completes it.
//!
//! `handlers` parses and authorizes, `service` holds the rules and the transaction, `store`
//! the SQL.

mod handlers;
mod service;
mod store;

use serde::Serialize;
use utoipa::ToSchema;

// A glob, so the `__path_*` items `#[utoipa::path]` generates beside each handler come
// along: the router's `routes!(refunds::create)` needs them here.
pub use handlers::*;
pub use store::of_order;

#[derive(Debug, Serialize, ToSchema)]
pub struct Refund {
    pub id: String,
    pub order_id: String,
    pub amount: i64,
    pub currency: String,
    /// `requested` (being sent to the provider), `pending` (the provider is on it),
    /// `succeeded` or `failed`.
    pub status: String,
    pub tickets_voided: i64,
    pub return_to_sale: bool,
    pub reason: Option<String>,
    pub created_at: String,
    pub completed_at: Option<String>,
}
