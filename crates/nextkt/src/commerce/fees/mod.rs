//! The platform fee Nextkt earns per ticket. A *deal* is a fee rule in one currency; the
//! deal that applies to an organization is its own, else its partner's, else the
//! platform's (from configuration). Each event says who pays it: the buyer (added to the
//! total) or the organizer (deducted from the settlement).
//!
//! `handlers` parses and authorizes, `service` decides which deal applies and writes an
//! organization's, `store` reads a partner's.

mod handlers;
mod service;
mod store;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::pricing::FeeRule;
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::validate;

// A glob, so the `__path_*` items `#[utoipa::path]` generates beside each handler come
// along: the router's `routes!(fees::show)` needs them here.
pub use handlers::*;
pub use service::{effective, set_partner_deal};

/// A fee rule and the currency its fixed, minimum and maximum amounts are in. In another
/// currency only the percentage applies (amounts do not convert).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeeDeal {
    /// Minor units per ticket.
    pub fixed: i64,
    /// Basis points of the ticket's price (250 = 2.5 %).
    pub bps: i64,
    /// Least fee per paid ticket, minor units.
    pub min: i64,
    /// Most fee per ticket, minor units (none when absent).
    pub max: Option<i64>,
    pub currency: String,
}

impl FeeDeal {
    pub fn validate(&self) -> ApiResult<()> {
        validate::range("fixed", self.fixed, 0, 1_000_000_000)?;
        validate::range("bps", self.bps, 0, 5_000)?;
        validate::range("min", self.min, 0, 1_000_000_000)?;
        if let Some(max) = self.max
            && max < self.min
        {
            return Err(ApiError::invalid("max", "cannot be below min"));
        }
        validate::currency("currency", &self.currency)?;
        Ok(())
    }

    /// The rule for tickets priced in `currency`.
    pub fn rule_for(&self, currency: &str) -> FeeRule {
        if currency == self.currency {
            FeeRule {
                fixed: self.fixed,
                bps: self.bps,
                min: self.min,
                max: self.max,
            }
        } else {
            FeeRule {
                fixed: 0,
                bps: self.bps,
                min: 0,
                max: None,
            }
        }
    }
}

/// Where the applying deal comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DealSource {
    Organization,
    Partner,
    Platform,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EffectiveFee {
    pub deal: FeeDeal,
    pub source: DealSource,
}
