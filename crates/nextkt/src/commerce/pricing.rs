//! Pricing: from cart lines to what the buyer pays, in integer minor units. One place for
//! every money rule; `docs/pricing.md` has worked examples.
//!
//! Order of work, per line (a ticket type × quantity):
//! 1. subtotal = unit price × quantity;
//! 2. discount: a percentage of each eligible line, or a fixed amount per order spread over
//!    the eligible lines in proportion to their subtotals (largest remainder, so the parts
//!    add up exactly); never more than the line;
//! 3. points: their value (capped at what the tickets cost after discount) spread the same
//!    way over all lines;
//! 4. tax: a percentage of the line's net (subtotal − discount − points);
//! 5. platform fee per paid ticket: fixed + percentage of the unit price, within a minimum
//!    and maximum (none on free tickets, nor on tickets a code gives away in full); added
//!    to the total when the buyer pays it, kept out of it when the organizer absorbs it.
//!
//! Every percentage is in basis points (1/100 of a percent); every rounding is half-up, to
//! the currency's minor unit, once per line.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Basis points in 100 %.
pub const BPS: i64 = 10_000;

/// `numerator / denominator`, rounded half up. Both non-negative, denominator positive.
pub fn div_half_up(numerator: i128, denominator: i128) -> i64 {
    debug_assert!(numerator >= 0 && denominator > 0);
    ((2 * numerator + denominator) / (2 * denominator)) as i64
}

/// `amount × bps / 10 000`, rounded half up.
pub fn percent_of(amount: i64, bps: i64) -> i64 {
    div_half_up(i128::from(amount) * i128::from(bps), i128::from(BPS))
}

/// Splits `total` over `weights` in proportion, exactly: each part is rounded down, and the
/// units left over go to the largest remainders (ties to the earlier line).
pub fn allocate(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if sum == 0 || total == 0 {
        return vec![0; weights.len()];
    }
    let mut parts: Vec<i64> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let exact = i128::from(total) * i128::from(*w);
        parts.push((exact / sum) as i64);
        remainders.push((exact % sum, i));
    }
    let mut left = total - parts.iter().sum::<i64>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders {
        if left == 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    parts
}

/// Who pays the platform fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeePayer {
    /// Added to the buyer's total.
    Buyer,
    /// Kept out of the total; deducted from the organizer's settlement.
    Organizer,
}

/// The per-ticket platform fee: `fixed + bps × unit price`, clamped to `[min, max]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FeeRule {
    pub fixed: i64,
    pub bps: i64,
    pub min: i64,
    pub max: Option<i64>,
}

impl FeeRule {
    pub const NONE: FeeRule = FeeRule {
        fixed: 0,
        bps: 0,
        min: 0,
        max: None,
    };

    /// The fee on one ticket of `unit_price`. Free tickets carry no fee.
    pub fn per_ticket(&self, unit_price: i64) -> i64 {
        if unit_price <= 0 {
            return 0;
        }
        let fee = (self.fixed + percent_of(unit_price, self.bps)).max(self.min);
        match self.max {
            Some(max) => fee.min(max),
            None => fee,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscountRule {
    /// A share of each eligible line, in basis points (10 000 = 100 %).
    Percent { bps: i64 },
    /// An amount off the order, spread over the eligible lines.
    Fixed { amount: i64 },
}

#[derive(Debug, Clone)]
pub struct LineInput {
    pub unit_price: i64,
    pub quantity: i64,
    /// Whether the applied discount covers this line.
    pub discounted: bool,
}

#[derive(Debug, Clone)]
pub struct QuoteInput {
    pub lines: Vec<LineInput>,
    pub discount: Option<DiscountRule>,
    pub fee: FeeRule,
    pub fee_payer: FeePayer,
    /// Points the buyer wants to spend, and what one point is worth (minor units).
    pub points: i64,
    pub point_value: i64,
    pub tax_bps: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LineQuote {
    pub unit_price: i64,
    pub quantity: i64,
    pub subtotal: i64,
    pub discount: i64,
    pub points_value: i64,
    pub tax: i64,
    pub fee_per_ticket: i64,
    pub fee: i64,
    /// subtotal − discount − points + tax (+ fee when the buyer pays it).
    pub total: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Quote {
    pub lines: Vec<LineQuote>,
    pub subtotal: i64,
    pub discount: i64,
    pub points_used: i64,
    pub points_value: i64,
    pub tax: i64,
    /// The platform fee the buyer pays (0 when the organizer absorbs it).
    pub fee: i64,
    /// The platform fee the organizer absorbs (0 when the buyer pays it).
    pub fee_absorbed: i64,
    pub total: i64,
}

impl Quote {
    /// Tickets given away: one line of `quantity`, every amount zero.
    pub fn free(quantity: i64) -> Quote {
        let line = LineQuote {
            unit_price: 0,
            quantity,
            subtotal: 0,
            discount: 0,
            points_value: 0,
            tax: 0,
            fee_per_ticket: 0,
            fee: 0,
            total: 0,
        };
        Quote {
            lines: vec![line],
            subtotal: 0,
            discount: 0,
            points_used: 0,
            points_value: 0,
            tax: 0,
            fee: 0,
            fee_absorbed: 0,
            total: 0,
        }
    }
}

pub fn quote(input: &QuoteInput) -> Quote {
    let subtotals: Vec<i64> = input
        .lines
        .iter()
        .map(|l| l.unit_price * l.quantity)
        .collect();
    let eligible: Vec<i64> = input
        .lines
        .iter()
        .zip(&subtotals)
        .map(|(l, s)| if l.discounted { *s } else { 0 })
        .collect();
    let discounts: Vec<i64> = match input.discount {
        None => vec![0; subtotals.len()],
        Some(DiscountRule::Percent { bps }) => eligible
            .iter()
            .map(|s| percent_of(*s, bps.clamp(0, BPS)))
            .collect(),
        Some(DiscountRule::Fixed { amount }) => {
            allocate(amount.clamp(0, eligible.iter().sum()), &eligible)
        }
    };
    let after_discount: Vec<i64> = subtotals
        .iter()
        .zip(&discounts)
        .map(|(s, d)| s - d)
        .collect();
    let payable: i64 = after_discount.iter().sum();
    let points_used = if input.point_value > 0 {
        input.points.clamp(0, payable / input.point_value)
    } else {
        0
    };
    let points_value = points_used * input.point_value.max(0);
    let point_parts = allocate(points_value, &after_discount);

    let mut lines = Vec::with_capacity(input.lines.len());
    for (i, line) in input.lines.iter().enumerate() {
        let net = after_discount[i] - point_parts[i];
        let tax = percent_of(net, input.tax_bps.max(0));
        // A ticket a code gives away in full carries no fee.
        let fee_per_ticket = if net + point_parts[i] == 0 {
            0
        } else {
            input.fee.per_ticket(line.unit_price)
        };
        let fee = fee_per_ticket * line.quantity;
        let buyer_fee = if input.fee_payer == FeePayer::Buyer {
            fee
        } else {
            0
        };
        lines.push(LineQuote {
            unit_price: line.unit_price,
            quantity: line.quantity,
            subtotal: subtotals[i],
            discount: discounts[i],
            points_value: point_parts[i],
            tax,
            fee_per_ticket,
            fee,
            total: net + tax + buyer_fee,
        });
    }
    let sum = |f: fn(&LineQuote) -> i64| lines.iter().map(f).sum::<i64>();
    let fee_total = sum(|l| l.fee);
    let (fee, fee_absorbed) = match input.fee_payer {
        FeePayer::Buyer => (fee_total, 0),
        FeePayer::Organizer => (0, fee_total),
    };
    Quote {
        subtotal: sum(|l| l.subtotal),
        discount: sum(|l| l.discount),
        points_used,
        points_value,
        tax: sum(|l| l.tax),
        fee,
        fee_absorbed,
        total: sum(|l| l.total),
        lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(unit_price: i64, quantity: i64) -> LineInput {
        LineInput {
            unit_price,
            quantity,
            discounted: true,
        }
    }

    #[test]
    fn half_up() {
        assert_eq!(div_half_up(5, 10), 1);
        assert_eq!(div_half_up(4, 10), 0);
        assert_eq!(div_half_up(15, 10), 2);
        assert_eq!(div_half_up(14, 10), 1);
        assert_eq!(percent_of(12_345, 250), 309); // 308.625
        assert_eq!(percent_of(100, 50), 1); // 0.5 rounds up
    }

    #[test]
    fn allocation_is_exact_and_proportional() {
        assert_eq!(allocate(100, &[1, 1, 1]), vec![34, 33, 33]);
        assert_eq!(allocate(10, &[0, 5, 5]), vec![0, 5, 5]);
        assert_eq!(allocate(7, &[0, 0]), vec![0, 0]);
        assert_eq!(allocate(1, &[3, 7]), vec![0, 1]);
    }

    #[test]
    fn fee_rules() {
        let fee = FeeRule {
            fixed: 2_000,
            bps: 250,
            min: 5_000,
            max: Some(25_000),
        };
        assert_eq!(fee.per_ticket(0), 0);
        assert_eq!(fee.per_ticket(50_000), 5_000); // 2,000 + 1,250 → min 5,000
        assert_eq!(fee.per_ticket(500_000), 14_500); // 2,000 + 12,500
        assert_eq!(fee.per_ticket(2_000_000), 25_000); // 52,000 → max
    }

    #[test]
    fn the_worked_example_of_docs_pricing() {
        // Two GA at Rp 500,000 and one VIP at Rp 1,500,000; 10 % off GA only; 20,000 points
        // worth Rp 1 each; 10 % tax; fee Rp 2,000 + 2.5 % (min 5,000, max 25,000), buyer pays.
        let q = quote(&QuoteInput {
            lines: vec![
                line(500_000, 2),
                LineInput {
                    unit_price: 1_500_000,
                    quantity: 1,
                    discounted: false,
                },
            ],
            discount: Some(DiscountRule::Percent { bps: 1_000 }),
            fee: FeeRule {
                fixed: 2_000,
                bps: 250,
                min: 5_000,
                max: Some(25_000),
            },
            fee_payer: FeePayer::Buyer,
            points: 20_000,
            point_value: 1,
            tax_bps: 1_000,
        });
        assert_eq!(q.subtotal, 2_500_000);
        assert_eq!(q.discount, 100_000);
        assert_eq!(q.points_value, 20_000);
        assert_eq!(q.lines[0].points_value, 7_500); // 900,000 / 2,400,000 of 20,000
        assert_eq!(q.lines[1].points_value, 12_500);
        assert_eq!(q.tax, 238_000); // 10 % of 892,500 and of 1,487,500
        assert_eq!(q.lines[0].fee_per_ticket, 14_500);
        assert_eq!(q.lines[1].fee_per_ticket, 25_000);
        assert_eq!(q.fee, 54_000);
        assert_eq!(q.total, 2_500_000 - 100_000 - 20_000 + 238_000 + 54_000);
    }

    #[test]
    fn organizer_absorbed_fees_stay_out_of_the_total() {
        let q = quote(&QuoteInput {
            lines: vec![line(100_000, 3)],
            discount: None,
            fee: FeeRule {
                fixed: 1_000,
                bps: 0,
                min: 0,
                max: None,
            },
            fee_payer: FeePayer::Organizer,
            points: 0,
            point_value: 0,
            tax_bps: 0,
        });
        assert_eq!((q.fee, q.fee_absorbed, q.total), (0, 3_000, 300_000));
    }

    #[test]
    fn fixed_discounts_and_points_never_exceed_what_is_owed() {
        let q = quote(&QuoteInput {
            lines: vec![line(10_000, 1)],
            discount: Some(DiscountRule::Fixed { amount: 50_000 }),
            fee: FeeRule::NONE,
            fee_payer: FeePayer::Buyer,
            points: 1_000_000,
            point_value: 100,
            tax_bps: 1_100,
        });
        assert_eq!((q.discount, q.points_used, q.total), (10_000, 0, 0));
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn lines() -> impl Strategy<Value = Vec<LineInput>> {
            prop::collection::vec(
                (0i64..5_000_000, 1i64..20, any::<bool>()).prop_map(
                    |(unit_price, quantity, discounted)| LineInput {
                        unit_price,
                        quantity,
                        discounted,
                    },
                ),
                1..6,
            )
        }

        fn discount() -> impl Strategy<Value = Option<DiscountRule>> {
            prop_oneof![
                Just(None),
                (0i64..=BPS).prop_map(|bps| Some(DiscountRule::Percent { bps })),
                (0i64..50_000_000).prop_map(|amount| Some(DiscountRule::Fixed { amount })),
            ]
        }

        fn fee() -> impl Strategy<Value = FeeRule> {
            (
                0i64..10_000,
                0i64..1_000,
                0i64..20_000,
                prop::option::of(20_000i64..100_000),
            )
                .prop_map(|(fixed, bps, min, max)| FeeRule {
                    fixed,
                    bps,
                    min,
                    max,
                })
        }

        proptest! {
            #[test]
            fn allocation_adds_up_and_stays_proportional(total in 0i64..1_000_000_000, weights in prop::collection::vec(0i64..10_000_000, 1..8)) {
                let parts = allocate(total, &weights);
                let sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
                if sum == 0 {
                    prop_assert!(parts.iter().all(|p| *p == 0));
                } else {
                    prop_assert_eq!(parts.iter().sum::<i64>(), total);
                    for (part, weight) in parts.iter().zip(&weights) {
                        // Within one unit of the exact share.
                        let exact = i128::from(total) * i128::from(*weight);
                        let scaled = i128::from(*part) * sum;
                        prop_assert!((scaled - exact).abs() < sum, "part {} weight {}", part, weight);
                    }
                }
            }

            #[test]
            fn quotes_add_up_against_a_plain_model(
                lines in lines(),
                discount in discount(),
                fee in fee(),
                organizer_pays in any::<bool>(),
                points in 0i64..10_000_000,
                point_value in 0i64..1_000,
                tax_bps in 0i64..3_000,
            ) {
                let fee_payer = if organizer_pays { FeePayer::Organizer } else { FeePayer::Buyer };
                let input = QuoteInput { lines: lines.clone(), discount, fee, fee_payer, points, point_value, tax_bps };
                let q = quote(&input);

                // The model: the obvious sums, each rounding checked against exact arithmetic.
                let subtotal: i64 = lines.iter().map(|l| l.unit_price * l.quantity).sum();
                prop_assert_eq!(q.subtotal, subtotal);
                prop_assert!(q.discount >= 0 && q.discount <= subtotal);
                let eligible: i64 = lines.iter().filter(|l| l.discounted).map(|l| l.unit_price * l.quantity).sum();
                for (line, lq) in lines.iter().zip(&q.lines) {
                    prop_assert!(lq.discount <= lq.subtotal);
                    if !line.discounted {
                        prop_assert_eq!(lq.discount, 0);
                    }
                    if let Some(DiscountRule::Percent { bps }) = discount && line.discounted {
                        let exact = i128::from(lq.subtotal) * i128::from(bps);
                        prop_assert!((i128::from(lq.discount) * 10_000 - exact).abs() <= 5_000, "half-up per line");
                    }
                    let net = lq.subtotal - lq.discount - lq.points_value;
                    prop_assert!(net >= 0);
                    let exact_tax = i128::from(net) * i128::from(tax_bps);
                    prop_assert!((i128::from(lq.tax) * 10_000 - exact_tax).abs() <= 5_000);
                    if line.unit_price == 0 || lq.discount == lq.subtotal {
                        prop_assert_eq!(lq.fee_per_ticket, 0);
                    } else {
                        prop_assert!(lq.fee_per_ticket >= fee.min.min(fee.max.unwrap_or(i64::MAX)));
                        prop_assert!(lq.fee_per_ticket <= fee.max.unwrap_or(i64::MAX));
                    }
                    prop_assert_eq!(lq.fee, lq.fee_per_ticket * lq.quantity);
                }
                if let Some(DiscountRule::Fixed { amount }) = discount {
                    prop_assert_eq!(q.discount, amount.min(eligible));
                }
                prop_assert!(q.points_used <= points);
                prop_assert_eq!(q.points_value, q.points_used * point_value);
                prop_assert!(q.points_value <= subtotal - q.discount);
                let fees: i64 = q.lines.iter().map(|l| l.fee).sum();
                match fee_payer {
                    FeePayer::Buyer => prop_assert_eq!((q.fee, q.fee_absorbed), (fees, 0)),
                    FeePayer::Organizer => prop_assert_eq!((q.fee, q.fee_absorbed), (0, fees)),
                }
                prop_assert_eq!(q.total, subtotal - q.discount - q.points_value + q.tax + q.fee);
                prop_assert_eq!(q.total, q.lines.iter().map(|l| l.total).sum::<i64>());
                prop_assert!(q.total >= 0);
            }
        }
    }
}
