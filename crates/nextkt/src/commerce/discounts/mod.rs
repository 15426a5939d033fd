//! Discount codes: a percentage or a fixed amount off, limited to events or ticket types,
//! within a validity window, up to a number of uses in all and per buyer, from a minimum
//! quantity. Checked when a buyer applies a code to a cart and again whenever the cart is
//! priced; uses are counted when an order is paid.
//!
//! `handlers` parses and authorizes, `service` holds the rules and the transactions, `store`
//! the SQL. The rules that price a cart (`eligible_lines`) stay here, beside the row.

mod handlers;
mod service;
mod store;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::pricing::DiscountRule;
use crate::platform::clock::{Millis, opt_rfc3339, rfc3339};
use crate::platform::error::{ApiError, ApiResult};

// A glob, so the `__path_*` items `#[utoipa::path]` generates beside each handler come
// along: the router's `routes!(discounts::create)` needs them here.
pub use handlers::*;
pub use service::{claim_use, release_use, retake_use, use_left_locked};
pub use store::{find, find_by_code};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiscountKind {
    /// `value` is basis points off each eligible line (1,000 = 10 %).
    Percent,
    /// `value` is an amount off the order in minor units of `currency`.
    Fixed,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DiscountRow {
    pub id: String,
    pub organization_id: String,
    pub code: String,
    pub kind: String,
    pub value: i64,
    pub currency: Option<String>,
    pub event_ids_json: String,
    pub ticket_type_ids_json: String,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub max_uses: Option<i64>,
    pub max_uses_per_buyer: Option<i64>,
    pub min_quantity: i64,
    pub uses: i64,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
}

pub(crate) const COLUMNS: &str = "id, organization_id, code, kind, value, currency, event_ids_json, \
    ticket_type_ids_json, starts_at, ends_at, max_uses, max_uses_per_buyer, min_quantity, uses, \
    created_at, disabled_at";

#[derive(Debug, Serialize, ToSchema)]
pub struct Discount {
    pub id: String,
    pub code: String,
    pub kind: DiscountKind,
    pub value: i64,
    pub currency: Option<String>,
    /// Only these events (all when empty).
    pub event_ids: Vec<String>,
    /// Only these ticket types (all when empty).
    pub ticket_type_ids: Vec<String>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub max_uses: Option<i64>,
    pub max_uses_per_buyer: Option<i64>,
    /// Eligible tickets the cart must hold.
    pub min_quantity: i64,
    /// Paid orders that used the code.
    pub uses: i64,
    pub active: bool,
    pub created_at: String,
}

impl DiscountRow {
    pub fn kind(&self) -> DiscountKind {
        if self.kind == "fixed" {
            DiscountKind::Fixed
        } else {
            DiscountKind::Percent
        }
    }

    pub fn event_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.event_ids_json).unwrap_or_default()
    }

    pub fn ticket_type_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.ticket_type_ids_json).unwrap_or_default()
    }

    pub fn rule(&self) -> DiscountRule {
        match self.kind() {
            DiscountKind::Percent => DiscountRule::Percent { bps: self.value },
            DiscountKind::Fixed => DiscountRule::Fixed { amount: self.value },
        }
    }

    pub(crate) fn into_api(self) -> Discount {
        Discount {
            kind: self.kind(),
            event_ids: self.event_ids(),
            ticket_type_ids: self.ticket_type_ids(),
            active: self.disabled_at.is_none(),
            id: self.id,
            code: self.code,
            value: self.value,
            currency: self.currency,
            starts_at: opt_rfc3339(self.starts_at),
            ends_at: opt_rfc3339(self.ends_at),
            max_uses: self.max_uses,
            max_uses_per_buyer: self.max_uses_per_buyer,
            min_quantity: self.min_quantity,
            uses: self.uses,
            created_at: rfc3339(self.created_at),
        }
    }
}

/// A cart line as the discount rules see it.
pub struct CartLine<'a> {
    pub event_id: &'a str,
    pub ticket_type_id: &'a str,
    pub currency: &'a str,
    pub quantity: i64,
}

/// Which lines the code covers, or why it does not apply (422 `discount_not_applicable`).
pub fn eligible_lines(
    discount: &DiscountRow,
    lines: &[CartLine<'_>],
    now: Millis,
) -> ApiResult<Vec<bool>> {
    let refuse = |why: &str| Err(ApiError::rule("discount_not_applicable", why.to_string()));
    if discount.disabled_at.is_some() {
        return refuse("this code is no longer valid");
    }
    if discount.starts_at.is_some_and(|at| now < at) {
        return refuse("this code is not valid yet");
    }
    if discount.ends_at.is_some_and(|at| now >= at) {
        return refuse("this code has expired");
    }
    if discount.max_uses.is_some_and(|max| discount.uses >= max) {
        return refuse("this code has been used up");
    }
    let events = discount.event_ids();
    let types = discount.ticket_type_ids();
    let mask: Vec<bool> = lines
        .iter()
        .map(|l| {
            (events.is_empty() || events.iter().any(|e| e == l.event_id))
                && (types.is_empty() || types.iter().any(|t| t == l.ticket_type_id))
                && (discount.kind() == DiscountKind::Percent
                    || discount.currency.as_deref() == Some(l.currency))
        })
        .collect();
    let quantity: i64 = lines
        .iter()
        .zip(&mask)
        .filter(|(_, m)| **m)
        .map(|(l, _)| l.quantity)
        .sum();
    if quantity == 0 {
        return refuse("this code does not apply to anything in the cart");
    }
    if quantity < discount.min_quantity {
        return refuse(&format!(
            "this code needs at least {} eligible tickets",
            discount.min_quantity
        ));
    }
    Ok(mask)
}

/// The normalised form codes are matched by (any letter case).
pub fn code_key(code: &str) -> String {
    code.trim().to_uppercase()
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscountInput {
    /// 3–32 letters, digits, `-` or `_`; matched in any letter case. Fixed once created.
    pub code: Option<String>,
    pub kind: Option<DiscountKind>,
    /// Percent: basis points, 1–10,000. Fixed: minor units, at least 1.
    pub value: Option<i64>,
    /// Required for fixed discounts.
    pub currency: Option<String>,
    pub event_ids: Option<Vec<String>>,
    pub ticket_type_ids: Option<Vec<String>>,
    /// `""` clears.
    pub starts_at: Option<String>,
    /// `""` clears.
    pub ends_at: Option<String>,
    /// Uses in all, at least 1; `null` clears (no limit).
    #[serde(default, deserialize_with = "crate::platform::json::nullable")]
    #[schema(value_type = Option<i64>)]
    pub max_uses: Option<Option<i64>>,
    /// Uses per buyer, at least 1; `null` clears (no limit).
    #[serde(default, deserialize_with = "crate::platform::json::nullable")]
    #[schema(value_type = Option<i64>)]
    pub max_uses_per_buyer: Option<Option<i64>>,
    pub min_quantity: Option<i64>,
    /// false disables the code.
    pub active: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discount(kind: &str, value: i64) -> DiscountRow {
        DiscountRow {
            id: "d".into(),
            organization_id: "o".into(),
            code: "SAVE".into(),
            kind: kind.into(),
            value,
            currency: Some("IDR".into()),
            event_ids_json: "[]".into(),
            ticket_type_ids_json: "[\"vip\"]".into(),
            starts_at: Some(100),
            ends_at: Some(200),
            max_uses: Some(5),
            max_uses_per_buyer: None,
            min_quantity: 2,
            uses: 0,
            created_at: 0,
            disabled_at: None,
        }
    }

    fn line<'a>(tt: &'a str, quantity: i64) -> CartLine<'a> {
        CartLine {
            event_id: "e",
            ticket_type_id: tt,
            currency: "IDR",
            quantity,
        }
    }

    #[test]
    fn eligibility_follows_every_rule() {
        let d = discount("percent", 1000);
        assert_eq!(
            eligible_lines(&d, &[line("ga", 3), line("vip", 2)], 150).unwrap(),
            vec![false, true]
        );
        let code = |r: ApiResult<Vec<bool>>| r.unwrap_err().detail;
        assert!(code(eligible_lines(&d, &[line("vip", 1)], 150)).contains("at least 2"));
        assert!(code(eligible_lines(&d, &[line("ga", 5)], 150)).contains("does not apply"));
        assert!(code(eligible_lines(&d, &[line("vip", 2)], 99)).contains("not valid yet"));
        assert!(code(eligible_lines(&d, &[line("vip", 2)], 200)).contains("expired"));
        let used = DiscountRow {
            uses: 5,
            ..discount("percent", 1000)
        };
        assert!(code(eligible_lines(&used, &[line("vip", 2)], 150)).contains("used up"));
        let usd = CartLine {
            currency: "USD",
            ..line("vip", 2)
        };
        assert!(
            eligible_lines(&discount("fixed", 10), &[usd], 150).is_err(),
            "fixed amounts keep their currency"
        );
    }
}
