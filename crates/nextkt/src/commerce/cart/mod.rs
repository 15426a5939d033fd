//! The cart (`/consumer/cart*`). A cart belongs to one event; each item is a hold with an
//! expiry. Anonymous carts are reached with the `X-Cart-Token` the first add returns; a
//! logged-in buyer's cart also needs that buyer's token. Adding goes through the oversell
//! core: coalesced batches for general admission, one transaction for seats.
//!
//! `handlers` parses the requests, `service` holds the rules (whose cart, what may change,
//! what it costs), `store` the SQL.

mod handlers;
mod service;
mod store;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::discounts::DiscountKind;
use super::pricing::{FeePayer, Quote};
use crate::ids::CartId;
use crate::platform::clock::Millis;

// A glob, so the `__path_*` items `#[utoipa::path]` generates beside each handler come
// along: the router's `routes!(cart::add)` needs them here.
pub use handlers::*;
pub use service::{cart_id_of, checkout_view};

pub const CART_TOKEN_HEADER: &str = "x-cart-token";
pub const CART_TOKEN_PREFIX: &str = "nkt_cart_";
/// Measurement only: sends a reservation down the naive path (see `--enable-baseline-reservations`).
pub const RESERVATION_PATH_HEADER: &str = "x-reservation-path";
pub const MAX_QUANTITY: i64 = 100;

/// Everything checkout needs from the cart, checked again now.
pub struct CheckoutCart {
    pub cart_id: CartId,
    pub event_id: String,
    pub currency: String,
    pub pricing: Quote,
    pub discount_id: Option<String>,
    pub fee_payer: String,
    /// The earliest expiry of the cart's holds: the order's payment deadline.
    pub deadline: Millis,
    pub hold_count: u64,
    /// The ticket type (id, name) of each pricing line, in order.
    pub line_types: Vec<(String, String)>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddToCart {
    pub event_id: String,
    /// A general-admission ticket type, with `quantity`.
    pub ticket_type_id: Option<String>,
    /// 1–100; default 1.
    pub quantity: Option<i64>,
    /// Or: specific seats (up to 50).
    pub seat_ids: Option<Vec<String>>,
    /// Unlocks a hidden ticket type.
    pub unlock_code: Option<String>,
    /// For private events: the key from the event's link.
    pub access_key: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HeldItem {
    pub id: String,
    /// Units held by this item after the request.
    pub quantity: i64,
    pub expires_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Added {
    pub cart_id: String,
    /// Present when this request created the cart: send it as `X-Cart-Token` from now on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cart_token: Option<String>,
    pub items: Vec<HeldItem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartItem {
    pub id: String,
    pub ticket_type_id: String,
    pub ticket_type_name: String,
    pub seat_id: Option<String>,
    /// `Row-Number` of the seat, e.g. `C-12`.
    pub seat_label: Option<String>,
    pub quantity: i64,
    pub unit_price: i64,
    pub currency: String,
    pub expires_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppliedDiscount {
    pub code: String,
    pub kind: DiscountKind,
    pub value: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Cart {
    pub id: String,
    pub event_id: String,
    pub items: Vec<CartItem>,
    pub total_quantity: i64,
    /// Sum of the items' prices.
    pub subtotal: i64,
    pub currency: Option<String>,
    /// The code applied to this cart, while it still applies.
    pub discount: Option<AppliedDiscount>,
    /// Why the applied code no longer applies (it is left out of the price).
    pub discount_problem: Option<String>,
    /// The full price: per ticket type, the discount, tax, the platform fee and the total.
    pub pricing: Quote,
    /// Who pays the platform fee for this event.
    pub fee_payer: FeePayer,
    /// When the first item lapses.
    pub expires_at: Option<String>,
    pub extended: bool,
    pub can_extend: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeQuantity {
    /// The item's new quantity, 1–100 (remove an item with DELETE).
    pub quantity: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyDiscount {
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsePoints {
    /// Points to spend on this cart at checkout (0 to spend none).
    pub points: i64,
}
