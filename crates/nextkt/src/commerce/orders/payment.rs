//! What the provider reports about a payment, applied exactly once: an order paid
//! (inventory converted, tickets issued, points earned, confirmation queued), a late
//! payment that claims its stock again or is refunded, a duplicate payment given back.

use serde_json::json;

use super::{OrderRow, OrderStatus, store};
use crate::commerce::discounts;
use crate::commerce::points::{self, Movement};
use crate::inventory::convert;
use crate::notify::outbox::{self, Email};
use crate::payments::{self, PaymentRow};
use crate::platform::clock::Millis;
use crate::platform::db::Tx;
use crate::platform::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::tickets::{self, Issue};

pub struct ProviderEvent<'a> {
    pub provider: &'a str,
    pub event_id: &'a str,
    pub kind: &'a str,
    pub payment: &'a PaymentRow,
    pub amount: i64,
    pub currency: &'a str,
}

/// Applies one provider callback, exactly once.
#[tracing::instrument(skip_all, fields(provider = %event.provider, event_id = %event.event_id, payment_id = %event.payment.id, order_id = %event.payment.order_id))]
pub async fn apply_provider_event(
    state: &AppState,
    event: ProviderEvent<'_>,
    now: Millis,
) -> ApiResult<String> {
    let mut tx = state.db.begin().await?;
    let recorded = payments::events::record(
        &mut tx,
        payments::events::Received {
            provider: event.provider,
            event_id: event.event_id,
            payment_id: Some(&event.payment.id),
            kind: event.kind,
            outcome: "pending",
        },
        now,
    )
    .await?;
    if !recorded {
        return Ok("duplicate".into());
    }
    let payment = payments::lock(&state.db, &mut tx, &event.payment.id).await?;
    let outcome = match event.kind {
        "payment.paid" if payment.status == "paid" => "already_paid".to_string(),
        "payment.paid" => {
            if event.amount != payment.amount || event.currency != payment.currency {
                tracing::error!(payment = %payment.id, "provider reported a different amount; not settling");
                "amount_mismatch".to_string()
            } else {
                payments::mark(&mut tx, &payment.id, "paid", now).await?;
                let order = store::lock(&state.db, &mut tx, &payment.order_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("order"))?;
                match order.status {
                    OrderStatus::PendingPayment | OrderStatus::Expired | OrderStatus::Cancelled => {
                        if settle_paid(state, &mut tx, &order.id, now).await? {
                            if order.status == OrderStatus::PendingPayment {
                                "paid"
                            } else {
                                "paid_late"
                            }
                            .to_string()
                        } else {
                            refund_late(&mut tx, &order, now).await?;
                            "refunded_late".to_string()
                        }
                    }
                    // A second successful payment for a settled order is given back.
                    OrderStatus::Paid | OrderStatus::PartiallyRefunded | OrderStatus::Refunded => {
                        refund_payment(&mut tx, &payment, &order, "duplicate payment", now).await?;
                        "refunded_duplicate_payment".to_string()
                    }
                }
            }
        }
        "payment.failed" if payment.status == "pending" => {
            payments::mark(&mut tx, &payment.id, "failed", now).await?;
            "failed".to_string()
        }
        _ => "ignored".to_string(),
    };
    payments::events::set_outcome(&mut tx, event.provider, event.event_id, &outcome).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Marks the order paid: inventory converted (or claimed again), tickets issued, points
/// earned, confirmation queued. Returns false when a late payment found the stock gone
/// (the caller refunds).
pub(super) async fn settle_paid(
    state: &AppState,
    tx: &mut Tx,
    order_id: &str,
    now: Millis,
) -> ApiResult<bool> {
    let order = store::lock(&state.db, tx, order_id)
        .await?
        .ok_or_else(|| ApiError::not_found("order"))?;
    let units = store::units(tx, &order.id).await?;
    // An expired or cancelled order gave its code's use and its points back; a late payment
    // is honoured only if it can take them again, as it must the stock.
    let reopening = order.status != OrderStatus::PendingPayment;
    if reopening && !can_take_again(state, tx, &order, now).await? {
        return Ok(false);
    }
    let Some(claimed) = convert::claim_for_order(&state.db, tx, &order.id, units, now).await?
    else {
        return Ok(false);
    };
    if reopening {
        take_again(state, tx, &order, now).await?;
    }
    let to = Issue {
        org_id: &order.organization_id,
        event_id: &order.event_id,
        order_id: &order.id,
        holder_name: &order.name,
        holder_email: &order.email,
        livemode: order.livemode != 0,
    };
    let issued = tickets::issue(&state.db, tx, to, &claimed, now).await?;
    store::set_paid(tx, &order.id, now).await?;
    if let Some(buyer_id) = &order.buyer_id {
        let org = crate::tenancy::organizations::find(&state.db, &order.organization_id)
            .await?
            .ok_or_else(|| ApiError::not_found("organization"))?;
        let program = points::program(&state.db, &org.id, &org.currency).await?;
        let earned = program.earned_on(
            order.subtotal - order.discount - order.points_value,
            &order.currency,
        );
        let movement = Movement {
            org_id: &org.id,
            buyer_id,
            kind: "earn",
            reference_id: Some(&order.id),
            note: None,
        };
        points::credit(tx, &movement, earned, program.expiry_days, now).await?;
    }
    let links: Vec<serde_json::Value> = issued
        .iter()
        .map(|t| json!({ "url": format!("{}/t/{}", state.base_url, t.code), "holder": t.holder_name, "qr_payload": t.qr_payload }))
        .collect();
    // The email names the event, its local start and its venue.
    let event = store::event(tx, &order.event_id).await?;
    let mut payload = json!({ "order_id": order.id, "name": order.name, "total": order.total, "currency": order.currency,
        "subtotal": order.subtotal, "discount": order.discount, "points_value": order.points_value,
        "tax": order.tax, "fee": order.fee, "tickets": links });
    if let Some(fields) = payload.as_object_mut() {
        fields.extend(event.email_details(&order.locale));
    }
    outbox::enqueue(
        tx,
        Email {
            organization_id: Some(&order.organization_id),
            template: "order_confirmation",
            locale: &order.locale,
            to: &order.email,
            payload,
        },
        now,
    )
    .await?;
    metrics::counter!("nextkt_orders_paid_total").increment(1);
    metrics::counter!("nextkt_tickets_issued_total").increment(issued.len() as u64);
    Ok(true)
}

/// Whether the code's use and the points a closed order gave back are still there.
async fn can_take_again(
    state: &AppState,
    tx: &mut Tx,
    order: &OrderRow,
    now: Millis,
) -> ApiResult<bool> {
    if let Some(discount_id) = &order.discount_id
        && !discounts::use_left_locked(&state.db, tx, discount_id).await?
    {
        return Ok(false);
    }
    if let (Some(buyer_id), true) = (&order.buyer_id, order.points_used > 0) {
        let live = points::balance_locked(&state.db, tx, buyer_id, now).await?;
        if live < order.points_used {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Takes the code's use and the points of a closed order again (checked by `can_take_again`
/// in the same transaction).
async fn take_again(state: &AppState, tx: &mut Tx, order: &OrderRow, now: Millis) -> ApiResult<()> {
    if let Some(discount_id) = &order.discount_id {
        discounts::retake_use(tx, discount_id).await?;
    }
    if let Some(buyer_id) = &order.buyer_id {
        let movement = Movement {
            org_id: &order.organization_id,
            buyer_id,
            kind: "spend",
            reference_id: Some(&order.id),
            note: Some("late payment"),
        };
        points::debit(&state.db, tx, &movement, order.points_used, now).await?;
    }
    Ok(())
}

/// Gives a captured payment back in full, through its provider.
async fn refund_payment(
    tx: &mut Tx,
    payment: &PaymentRow,
    order: &OrderRow,
    reason: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    payments::refunds::request(
        tx,
        payments::refunds::Request {
            org_id: &order.organization_id,
            order_id: &order.id,
            payment_id: Some(&payment.id),
            provider: &payment.provider,
            amount: payment.amount,
            currency: &payment.currency,
            reason: Some(reason),
            return_to_sale: false,
            created_by_kind: "system",
            created_by_id: "nextkt",
        },
        now,
    )
    .await?;
    Ok(())
}

/// A payment arrived after the holds lapsed and the stock is gone: give the money back and
/// tell the buyer.
async fn refund_late(tx: &mut Tx, order: &OrderRow, now: Millis) -> ApiResult<()> {
    let paid = store::paid_payments(tx, &order.id).await?;
    for payment in &paid {
        refund_payment(tx, payment, order, "late payment: sold out", now).await?;
    }
    store::set_status(tx, &order.id, OrderStatus::Refunded, now).await?;
    outbox::enqueue(
        tx,
        Email {
            organization_id: Some(&order.organization_id),
            template: "late_payment_refund",
            locale: &order.locale,
            to: &order.email,
            payload: json!({ "order_id": order.id, "name": order.name, "total": order.total, "currency": order.currency }),
        },
        now,
    )
    .await?;
    metrics::counter!("nextkt_orders_refunded_late_total").increment(1);
    Ok(())
}
