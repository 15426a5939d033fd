//! Loyalty points: per organization, buyers earn points on paid orders and spend them at
//! checkout. Earned points come in lots, each with its own expiry; spending takes from the
//! lots that expire first. Every movement is a row of the append-only ledger; the balance
//! is what is left of the lots that have not expired.
//!
//! `handlers` parses and authorizes, `service` holds the rules (movements, the program,
//! adjustments) and the transactions, `store` the SQL.

mod handlers;
mod service;
mod store;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::error::ApiResult;
use crate::platform::validate;

// A glob, so the `__path_*` items `#[utoipa::path]` generates beside each handler come
// along: the router's `routes!(points::adjust)` needs them here.
pub use handlers::*;
pub use service::{credit, debit, debit_at_most};
pub use store::{balance, balance_locked, program};

/// An organization's program. `earn_per` 0 turns earning off; `point_value` 0 turns
/// spending off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct PointsProgram {
    /// Minor units spent per point earned (1,000: one point per Rp 1,000 paid); 0 = off.
    pub earn_per: i64,
    /// What one point is worth at checkout, in minor units; 0 = points cannot be spent.
    pub point_value: i64,
    /// Days earned points last; 0 = they never expire.
    pub expiry_days: i64,
    /// The currency of `earn_per` and `point_value`.
    pub currency: String,
}

impl PointsProgram {
    /// No program: nothing earned, nothing spent.
    pub fn off(currency: &str) -> PointsProgram {
        PointsProgram {
            earn_per: 0,
            point_value: 0,
            expiry_days: 0,
            currency: currency.to_string(),
        }
    }

    fn validate(&self) -> ApiResult<()> {
        validate::range("earn_per", self.earn_per, 0, 1_000_000_000)?;
        validate::range("point_value", self.point_value, 0, 1_000_000_000)?;
        validate::range("expiry_days", self.expiry_days, 0, 3650)?;
        validate::currency("currency", &self.currency)?;
        Ok(())
    }

    /// Points earned on `amount` paid in `currency` (whole points, rounded down).
    pub fn earned_on(&self, amount: i64, currency: &str) -> i64 {
        if self.earn_per <= 0 || currency != self.currency || amount <= 0 {
            0
        } else {
            amount / self.earn_per
        }
    }
}

pub struct Movement<'a> {
    pub org_id: &'a str,
    pub buyer_id: &'a str,
    pub kind: &'a str,
    pub reference_id: Option<&'a str>,
    pub note: Option<&'a str>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntry {
    pub id: String,
    /// Positive: earned or added; negative: spent, reversed or removed.
    pub delta: i64,
    /// `earn`, `spend`, `reversal` or `adjust`.
    pub kind: String,
    pub reference_id: Option<String>,
    pub note: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Rewards {
    /// Points that can be spent now.
    pub balance: i64,
    /// What they are worth at checkout (minor units of `currency`).
    pub balance_value: i64,
    pub point_value: i64,
    pub currency: String,
    /// When the soonest of the current points expire.
    pub next_expiry_at: Option<String>,
    /// Newest first (the last 100).
    pub history: Vec<LedgerEntry>,
}
