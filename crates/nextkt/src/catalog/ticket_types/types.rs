//! What the ticket-type API reads and writes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A ticket type as operators see it, with its inventory.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketType {
    pub id: String,
    pub event_id: String,
    pub name: String,
    /// `ga` (general admission, counted) or `seated` (sold by seat).
    pub kind: String,
    /// In minor units of `currency` (IDR has none: whole rupiah).
    pub price: i64,
    pub currency: String,
    /// For GA: the pool's capacity; for seated: the number of seats of this type.
    pub capacity: i64,
    /// Units in live carts.
    pub held: i64,
    /// Units issued as tickets.
    pub sold: i64,
    pub sale_starts_at: Option<String>,
    pub sale_ends_at: Option<String>,
    pub min_per_order: i64,
    pub max_per_order: Option<i64>,
    /// Hidden from buyers unless they give this code.
    pub unlock_code: Option<String>,
    pub sort_order: i64,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketTypeInput {
    pub name: Option<String>,
    /// `ga` (default for GA and mixed events) or `seated` (default for seated events).
    /// Fixed once created.
    pub kind: Option<String>,
    /// Minor units (whole rupiah for IDR); 0 for free tickets.
    pub price: Option<i64>,
    /// ISO 4217; the organization's by default. Fixed once created.
    pub currency: Option<String>,
    /// GA only. Can never go below what is sold and held.
    pub capacity: Option<i64>,
    /// `""` clears.
    pub sale_starts_at: Option<String>,
    /// `""` clears.
    pub sale_ends_at: Option<String>,
    /// Default 1; never above a GA type's capacity (unless that is 0).
    pub min_per_order: Option<i64>,
    /// 0 clears.
    pub max_per_order: Option<i64>,
    /// Hide the type unless buyers give this code; `""` clears.
    pub unlock_code: Option<String>,
    pub sort_order: Option<i64>,
}
