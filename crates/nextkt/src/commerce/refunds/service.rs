//! Refunding an order: what may be given back and how much, and everything that follows
//! (voided tickets, stock back on sale, the order's status, points, the buyer's email, the
//! audit entry), in one transaction.

use serde_json::json;

use super::store::{self, SoldTicket};
use crate::commerce::orders::{OrderStatus, find, lock_of_org};
use crate::commerce::points::{self, Movement};
use crate::ids::{OrderId, OrgId, TicketId};
use crate::inventory::convert::{self, Claimed};
use crate::notify::outbox::{self, Email};
use crate::payments;
use crate::platform::clock::Millis;
use crate::platform::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::tenancy::access::Actor;
use crate::tenancy::audit::{self, Change};
use crate::tickets;

/// What an operator asked to give back (input already validated).
pub struct NewRefund<'a> {
    pub org_id: &'a OrgId,
    pub order_id: &'a OrderId,
    pub actor: &'a Actor,
    /// Tickets to refund and void. `None` with no `amount`: the whole order.
    pub ticket_ids: Option<&'a [String]>,
    /// With `ticket_ids`: instead of those tickets' price; alone: money back without
    /// voiding anything.
    pub amount: Option<i64>,
    pub return_to_sale: bool,
    pub reason: Option<String>,
}

/// A refund recorded, waiting to be submitted to the provider.
pub struct Refunded {
    pub id: String,
    pub order_id: String,
    pub amount: i64,
    pub currency: String,
    pub tickets_voided: usize,
    pub return_to_sale: bool,
    pub reason: Option<String>,
    pub created_at: Millis,
}

/// Refunds an order, some of its tickets, or an amount.
#[tracing::instrument(skip_all, fields(org_id = %new.org_id, order_id = %new.order_id))]
pub async fn refund(state: &AppState, new: NewRefund<'_>) -> ApiResult<Refunded> {
    let NewRefund {
        org_id,
        order_id,
        actor,
        ticket_ids,
        amount,
        return_to_sale,
        reason,
    } = new;
    let now = state.clock.now_ms();
    // Read before the transaction: everything read inside it goes through it, so refunds
    // queued for the order's lock never wait for a pool connection held by one another.
    let currency = find(state, org_id, order_id).await?.currency;
    let program = points::program(&state.db, org_id, &currency).await?;
    let mut tx = state.db.begin().await?;
    // Every refund of an order waits for this lock, so what was refunded before is read
    // after the previous refund committed: two refunds at once can never both fit.
    let order = lock_of_org(state, &mut tx, org_id, order_id).await?;
    if !order.status.is_paid() {
        return Err(ApiError::rule(
            "order_not_paid",
            "only a paid order can be refunded",
        ));
    }
    let prices = store::ticket_prices(&mut tx, &order.id).await?;
    let sold = store::valid_tickets(&mut tx, &order.id).await?;
    let refunded = store::refunded_amount(&mut tx, &order.id).await?;
    let remaining = order.total - refunded;
    let (voided, price): (Vec<&SoldTicket>, i64) = match (ticket_ids, amount) {
        (None, None) => (sold.iter().collect(), remaining),
        (None, Some(amount)) => (Vec::new(), amount),
        (Some(ids), amount) => {
            if ids.is_empty() {
                return Err(ApiError::invalid(
                    "ticket_ids",
                    "name at least one ticket, or leave ticket_ids out",
                ));
            }
            let mut chosen = Vec::new();
            for id in ids {
                let ticket = sold.iter().find(|t| &t.id == id).ok_or_else(|| {
                    ApiError::rule(
                        "ticket_not_refundable",
                        format!("ticket {id} is not a valid ticket of this order"),
                    )
                })?;
                if !chosen.iter().any(|t: &&SoldTicket| t.id == ticket.id) {
                    chosen.push(ticket);
                }
            }
            let worth: i64 = chosen
                .iter()
                .map(|t| {
                    prices
                        .iter()
                        .find(|(id, _)| *id == t.id)
                        .map(|(_, p)| *p)
                        .unwrap_or(0)
                })
                .sum();
            (chosen, amount.unwrap_or(worth.min(remaining)))
        }
    };
    if price < 0 || (price == 0 && voided.is_empty()) {
        return Err(ApiError::invalid("amount", "must be positive"));
    }
    if price > remaining {
        return Err(ApiError::rule(
            "refund_exceeds_paid",
            format!("at most {remaining} {} is left to refund", order.currency),
        ));
    }

    // Free orders took no money: nothing goes to a provider.
    let (payment_id, provider) = store::paid_payment(&mut tx, &order.id)
        .await?
        .unwrap_or_else(|| (String::new(), payments::SIMULATED.to_string()));
    let refund_id = payments::refunds::request(
        &mut tx,
        payments::refunds::Request {
            org_id: &order.organization_id,
            order_id: &order.id,
            payment_id: (!payment_id.is_empty()).then_some(payment_id.as_str()),
            provider: &provider,
            amount: price,
            currency: &order.currency,
            reason: reason.as_deref(),
            return_to_sale,
            created_by_kind: actor.kind.as_str(),
            created_by_id: &actor.id,
        },
        now,
    )
    .await?;
    for ticket in &voided {
        if !tickets::void(
            &mut tx,
            &TicketId::from(ticket.id.as_str()),
            &refund_id,
            return_to_sale,
            now,
        )
        .await?
        {
            return Err(ApiError::conflict(
                "ticket_changed",
                "a ticket changed meanwhile; try again",
            ));
        }
    }
    if !voided.is_empty() {
        // Voided tickets must be refused by the next offline bundle too.
        crate::gate::bundle::bump_version(&mut tx, &order.organization_id).await?;
    }
    if return_to_sale {
        let released: Vec<Claimed> = voided
            .iter()
            .map(|t| Claimed {
                ticket_type_id: t.ticket_type_id.clone(),
                seat_id: t.seat_id.clone(),
            })
            .collect();
        convert::release_sold(&state.db, &mut tx, &released, now).await?;
    }
    let all_back = refunded + price >= order.total || voided.len() == sold.len();
    let status = if all_back {
        OrderStatus::Refunded
    } else {
        OrderStatus::PartiallyRefunded
    };
    store::set_order_status(&mut tx, &order.id, status, now).await?;
    // Points follow the money: earned points on the refunded share are taken back (as far
    // as the buyer still has them), spent points on it are returned.
    if let Some(buyer_id) = &order.buyer_id
        && order.total > 0
    {
        let earned = store::points_earned(&mut tx, &order.id).await?;
        let share =
            |points: i64| (i128::from(points) * i128::from(price) / i128::from(order.total)) as i64;
        let movement = Movement {
            org_id: &order.organization_id,
            buyer_id,
            kind: "reversal",
            reference_id: Some(&order.id),
            note: Some("refund"),
        };
        points::debit_at_most(&state.db, &mut tx, &movement, share(earned), now).await?;
        points::credit(
            &mut tx,
            &movement,
            share(order.points_used),
            program.expiry_days,
            now,
        )
        .await?;
    }
    outbox::enqueue(
        &mut tx,
        Email {
            organization_id: Some(&order.organization_id),
            template: "refund",
            locale: &order.locale,
            to: &order.email,
            payload: json!({ "order_id": order.id, "name": order.name, "amount": price, "currency": order.currency,
                "tickets": voided.len(), "reason": reason }),
        },
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor,
            action: "order.refunded",
            target_kind: "order",
            target_id: &order.id,
            before: Some(json!({ "status": order.status })),
            after: Some(json!({ "refund_id": refund_id, "amount": price, "tickets": voided.iter().map(|t| &t.id).collect::<Vec<_>>(),
                "return_to_sale": return_to_sale })),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    metrics::counter!("nextkt_refunds_total").increment(1);
    Ok(Refunded {
        id: refund_id,
        order_id: order.id.into_string(),
        amount: price,
        currency: order.currency,
        tickets_voided: voided.len(),
        return_to_sale,
        reason,
        created_at: now,
    })
}
