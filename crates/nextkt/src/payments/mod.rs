//! Payment providers behind one boundary. The simulated provider (the default) has a hosted
//! pay page served by Nextkt where a person pays or fails a payment; the page then calls
//! the provider webhook like a real provider would.
//!
//! `simulated` and `webhooks` are the routes (parse, authorize, call the service, map the
//! answer); `service` holds the rules, `store` the SQL of payments and platform secrets,
//! `events` the record of provider callbacks; `refunds` submits refunds and owns their
//! table; `xendit` is Xendit's HTTP client.

pub mod events;
pub mod refunds;
pub mod service;
pub mod simulated;
pub mod status;
pub mod store;
pub mod webhooks;
pub mod xendit;

use serde::Serialize;
use utoipa::ToSchema;

use crate::platform::clock::{Millis, opt_rfc3339, rfc3339};

pub use service::{mark, open, simulated_callback_token};
pub use status::{PaymentStatus, RefundStatus};
pub use store::{
    PAYMENT_COLUMNS, PaymentRow, expire_pending, find, find_by_ref, lock, of_order,
    platform_secret, record,
};

pub const SIMULATED: &str = "simulated";
pub const XENDIT: &str = "xendit";

#[derive(Debug, Serialize, ToSchema)]
pub struct Payment {
    pub id: String,
    pub provider: String,
    /// `pending`, `paid`, `failed` or `expired`.
    pub status: String,
    pub amount: i64,
    pub currency: String,
    /// Where to send the buyer to pay.
    pub redirect_url: String,
    pub created_at: String,
    pub paid_at: Option<String>,
}

impl PaymentRow {
    pub fn to_api(&self) -> Payment {
        Payment {
            id: self.id.clone(),
            provider: self.provider.clone(),
            status: self.status.as_str().to_string(),
            amount: self.amount,
            currency: self.currency.clone(),
            redirect_url: self.redirect_url.clone(),
            created_at: rfc3339(self.created_at),
            paid_at: opt_rfc3339(self.paid_at),
        }
    }
}

/// A payment opened with a provider, before it is recorded.
pub struct Opened {
    pub id: String,
    pub provider: &'static str,
    pub provider_ref: String,
    pub redirect_url: String,
    /// Where the buyer goes after paying.
    pub return_url: String,
}

pub struct OpenRequest<'a> {
    pub amount: i64,
    pub currency: &'a str,
    pub email: &'a str,
    pub description: &'a str,
    /// Until when the buyer may pay (the holds' expiry).
    pub deadline: Millis,
    pub now: Millis,
    /// The storefront's page to come back to; this server's status page of the payment
    /// when absent.
    pub return_url: Option<&'a str>,
}
