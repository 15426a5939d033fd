//! Ticket types (tiers): price, capacity, sale window, per-order bounds, and hidden types
//! unlocked by a code. A general-admission type's capacity lives in its inventory pool,
//! where the oversell invariant is kept; a seated type's capacity is its seats.
//!
//! `handlers` parses and authorizes, `service` holds the rules and the transactions, `store`
//! the SQL; `types` the shapes the API reads and writes.

mod handlers;
mod service;
mod store;
mod types;

use crate::ids::{EventId, OrgId};
use crate::platform::clock::Millis;
use crate::platform::error::{ApiError, ApiResult};

// A glob, so the `__path_*` items `#[utoipa::path]` generates beside each handler come
// along: the router's `routes!(ticket_types::list)` needs them here.
pub use handlers::*;
pub use service::with_inventory;
pub use store::{TICKET_TYPE_COLUMNS, find, find_any, of_event};
pub use types::{TicketType, TicketTypeInput};

pub const MAX_CAPACITY: i64 = 10_000_000;
pub const MAX_PRICE: i64 = 1_000_000_000_000;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketTypeRow {
    pub id: String,
    pub organization_id: OrgId,
    pub event_id: EventId,
    pub name: String,
    pub kind: String,
    pub price: i64,
    pub currency: String,
    pub sale_starts_at: Option<i64>,
    pub sale_ends_at: Option<i64>,
    pub min_per_order: i64,
    pub max_per_order: Option<i64>,
    pub unlock_code: Option<String>,
    pub sort_order: i64,
}

impl TicketTypeRow {
    /// Hidden types are sold only to buyers who give the unlock code (any letter case).
    pub fn unlocked_by(&self, code: Option<&str>) -> bool {
        match &self.unlock_code {
            None => true,
            Some(expected) => code.is_some_and(|c| c.trim().eq_ignore_ascii_case(expected)),
        }
    }

    pub fn on_sale(&self, now: Millis) -> ApiResult<()> {
        if self.sale_starts_at.is_some_and(|at| now < at) {
            return Err(ApiError::rule(
                "sale_not_started",
                "this ticket type is not on sale yet",
            ));
        }
        if self.sale_ends_at.is_some_and(|at| now >= at) {
            return Err(ApiError::rule(
                "sale_ended",
                "this ticket type is no longer on sale",
            ));
        }
        Ok(())
    }
}
