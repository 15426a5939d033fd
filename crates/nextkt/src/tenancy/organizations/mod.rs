//! Organizations (tenants): their profile and settings, creation (by operator sign-up or by
//! a partner) and suspension.
//!
//! `handlers` parses and authorizes, `service` holds the rules and the transaction, `store`
//! the SQL.

mod handlers;
pub(super) mod service;
pub(super) mod store;

use serde::Serialize;
use utoipa::ToSchema;

use crate::platform::clock::{opt_rfc3339, rfc3339};

// A glob, so the `__path_*` items `#[utoipa::path]` generates beside each handler come
// along: the router's `routes!(organizations::get)` needs them here.
pub use handlers::*;
pub use service::{require_active, set_suspended};
pub use store::{COLUMNS, NewOrganization, OrganizationRow, find, find_in, insert, set_fee_json};

pub const DEFAULT_CURRENCY: &str = "IDR";
pub const DEFAULT_TIMEZONE: &str = "Asia/Jakarta";
pub const DEFAULT_LOCALE: &str = "en";

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Organization {
    pub id: String,
    pub name: String,
    /// Default currency of new events (ISO 4217).
    pub currency: String,
    /// Default IANA time zone of new events.
    pub timezone: String,
    /// Language of emails when a buyer has none (`en` or `id`).
    pub locale: String,
    pub support_email: Option<String>,
    pub website: Option<String>,
    /// Tax added to tickets, in basis points (1,000 = 10 %); 0 for none.
    pub tax_bps: i64,
    /// `active` or `suspended`.
    pub status: String,
    /// The provisioning partner's reference, for organizations a partner created.
    pub external_ref: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub suspended_at: Option<String>,
}

impl From<OrganizationRow> for Organization {
    fn from(row: OrganizationRow) -> Self {
        Organization {
            status: if row.suspended_at.is_some() {
                "suspended"
            } else {
                "active"
            }
            .to_string(),
            id: row.id.into_string(),
            name: row.name,
            currency: row.currency,
            timezone: row.timezone,
            locale: row.locale,
            support_email: row.support_email,
            website: row.website,
            tax_bps: row.tax_bps,
            external_ref: row.external_ref,
            created_at: rfc3339(row.created_at),
            updated_at: rfc3339(row.updated_at),
            suspended_at: opt_rfc3339(row.suspended_at),
        }
    }
}

impl Organization {
    pub fn audit_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}
