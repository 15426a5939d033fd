//! Orders: checkout turns a cart into an order (`pending_payment`) and a payment; the
//! provider's callback makes it `paid`, converting the holds, issuing the tickets, crediting
//! points and queueing the confirmation email, all in one transaction. An order not paid by
//! its deadline (the holds' expiry) is `expired`; a payment that arrives after that claims
//! the stock again if it is still there, or is refunded.
//!
//! `handlers` parses and answers the buyer's routes; `checkout` places an order,
//! `payment` applies what the provider reports (settling, late and duplicate payments),
//! `closing` expires and cancels unpaid orders, `operators` does what operators ask of an
//! order, `views` assembles the API's answer; `store` holds the SQL.

mod checkout;
mod closing;
mod handlers;
mod operators;
mod payment;
mod store;
mod views;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{EventId, OrderId, OrgId};
use crate::payments::Payment;
use crate::tickets::Ticket;

// A glob, so the `__path_*` items `#[utoipa::path]` generates beside each handler come
// along: the router's `routes!(orders::checkout)` needs them here.
pub use handlers::*;

pub use closing::{close_unpaid, expire_due};
pub(crate) use operators::{cancel, resend_confirmation};
pub use payment::{ProviderEvent, apply_provider_event};
pub(crate) use store::{Filter, of_org};
pub use store::{NewOrder, ORDER_COLUMNS, insert};
pub use views::{find, lock_of_org, view, view_page};

/// Where an order stands, as stored in `orders.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Waiting for the provider to report the payment.
    PendingPayment,
    Paid,
    PartiallyRefunded,
    Refunded,
    /// Not paid by its deadline.
    Expired,
    /// Closed unpaid by an operator.
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "pending_payment",
            OrderStatus::Paid => "paid",
            OrderStatus::PartiallyRefunded => "partially_refunded",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Expired => "expired",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    /// Paid and not wholly given back: it has tickets, and money left to refund.
    pub fn is_paid(self) -> bool {
        matches!(self, OrderStatus::Paid | OrderStatus::PartiallyRefunded)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored string that is none of an enum's values.
#[derive(Debug)]
pub struct Unknown {
    pub what: &'static str,
    pub value: String,
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {:?}", self.what, self.value)
    }
}

impl std::error::Error for Unknown {}

impl FromStr for OrderStatus {
    type Err = Unknown;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "pending_payment" => OrderStatus::PendingPayment,
            "paid" => OrderStatus::Paid,
            "partially_refunded" => OrderStatus::PartiallyRefunded,
            "refunded" => OrderStatus::Refunded,
            "expired" => OrderStatus::Expired,
            "cancelled" => OrderStatus::Cancelled,
            other => {
                return Err(Unknown {
                    what: "order status",
                    value: other.to_string(),
                });
            }
        })
    }
}

// Lets `OrderRow` read the column with `#[sqlx(try_from = "String")]`.
impl TryFrom<String> for OrderStatus {
    type Error = Unknown;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// What an order is, as stored in `orders.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    /// Bought through checkout.
    Sale,
    /// Tickets given away (guest lists).
    Complimentary,
}

impl OrderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderKind::Sale => "sale",
            OrderKind::Complimentary => "complimentary",
        }
    }
}

impl fmt::Display for OrderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderKind {
    type Err = Unknown;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sale" => Ok(OrderKind::Sale),
            "complimentary" => Ok(OrderKind::Complimentary),
            other => Err(Unknown {
                what: "order kind",
                value: other.to_string(),
            }),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub id: OrderId,
    pub organization_id: OrgId,
    pub event_id: EventId,
    pub cart_id: String,
    pub buyer_id: Option<String>,
    pub email: String,
    pub name: String,
    pub locale: String,
    #[sqlx(try_from = "String")]
    pub status: OrderStatus,
    pub currency: String,
    pub subtotal: i64,
    pub discount: i64,
    pub discount_id: Option<String>,
    pub points_used: i64,
    pub points_value: i64,
    pub tax: i64,
    pub fee: i64,
    pub fee_absorbed: i64,
    pub total: i64,
    pub fee_payer: String,
    pub payment_deadline: i64,
    pub created_at: i64,
    pub paid_at: Option<i64>,
    pub livemode: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct OrderLine {
    pub ticket_type_id: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub discount: i64,
    pub points_value: i64,
    pub tax: i64,
    pub fee_per_ticket: i64,
    pub fee: i64,
    pub total: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Order {
    pub id: String,
    pub event_id: String,
    /// `pending_payment`, `paid`, `partially_refunded`, `refunded`, `expired`, `cancelled`.
    #[schema(value_type = String)]
    pub status: OrderStatus,
    pub email: String,
    pub name: String,
    pub currency: String,
    pub subtotal: i64,
    pub discount: i64,
    pub points_used: i64,
    pub points_value: i64,
    pub tax: i64,
    /// Platform fee the buyer pays.
    pub fee: i64,
    /// Platform fee the organizer absorbs.
    pub fee_absorbed: i64,
    pub total: i64,
    pub lines: Vec<OrderLine>,
    /// Pay before this, or the order expires with its holds.
    pub payment_deadline: String,
    pub payments: Vec<Payment>,
    pub tickets: Vec<Ticket>,
    /// Money given back or on its way (`requested`, `pending` or `succeeded`), oldest first.
    pub refunds: Vec<super::refunds::Refund>,
    /// The sum of the refunds that did not fail.
    pub refunded: i64,
    /// What can still be refunded: `total − refunded` for a paid order, else 0.
    pub refundable: i64,
    pub created_at: String,
    pub paid_at: Option<String>,
    /// False for a test order: paid through the simulated provider (no money moved) or made
    /// with a test storefront key.
    pub livemode: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_and_write_their_stored_strings() {
        for status in [
            OrderStatus::PendingPayment,
            OrderStatus::Paid,
            OrderStatus::PartiallyRefunded,
            OrderStatus::Refunded,
            OrderStatus::Expired,
            OrderStatus::Cancelled,
        ] {
            assert_eq!(status.as_str().parse::<OrderStatus>().unwrap(), status);
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
        assert!("pending".parse::<OrderStatus>().is_err());
        for kind in [OrderKind::Sale, OrderKind::Complimentary] {
            assert_eq!(kind.as_str().parse::<OrderKind>().unwrap(), kind);
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
    }
}
