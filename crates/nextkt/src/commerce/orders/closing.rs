//! Closing unpaid orders: expired past their deadline (by the job) or cancelled by an
//! operator. Pending payments lapse; the code's use and the points go back.

use super::payment::{ProviderEvent, apply_provider_event};
use super::{OrderStatus, store};
use crate::commerce::discounts;
use crate::commerce::points::{self, Movement};
use crate::payments;
use crate::platform::clock::Millis;
use crate::platform::db::Tx;
use crate::platform::error::ApiResult;
use crate::state::AppState;

/// Closes an unpaid order as `expired` or `cancelled`: pending payments lapse, the code's
/// use and the points go back. False when the order is not (or no longer) unpaid, or a
/// payment for it has been captured (its callback settles it).
#[tracing::instrument(skip_all, fields(order_id = %order_id, status = %status))]
pub async fn close_unpaid(
    state: &AppState,
    tx: &mut Tx,
    order_id: &str,
    status: OrderStatus,
    now: Millis,
) -> ApiResult<bool> {
    debug_assert!(matches!(
        status,
        OrderStatus::Expired | OrderStatus::Cancelled
    ));
    let Some(order) = store::lock(&state.db, tx, order_id).await? else {
        return Ok(false);
    };
    if order.status != OrderStatus::PendingPayment {
        return Ok(false);
    }
    if store::paid_payment_count(tx, &order.id).await? > 0 {
        return Ok(false);
    }
    store::set_status(tx, &order.id, status, now).await?;
    payments::expire_pending(tx, &order.id, now).await?;
    if let Some(discount_id) = &order.discount_id {
        discounts::release_use(tx, discount_id).await?;
    }
    if let (Some(buyer_id), true) = (&order.buyer_id, order.points_used > 0) {
        let program = points::program(&state.db, &order.organization_id, &order.currency).await?;
        let movement = Movement {
            org_id: &order.organization_id,
            buyer_id,
            kind: "reversal",
            reference_id: Some(&order.id),
            note: Some(if status == OrderStatus::Expired {
                "order expired"
            } else {
                "order cancelled"
            }),
        };
        points::credit(tx, &movement, order.points_used, program.expiry_days, now).await?;
    }
    Ok(true)
}

/// Expires unpaid orders whose deadline passed. An order whose payment the provider has
/// captured is left for its callback to settle.
#[tracing::instrument(skip_all)]
pub async fn expire_due(state: &AppState, now: Millis) -> ApiResult<u64> {
    let due = store::due_for_expiry(&state.db, now).await?;
    let mut expired = 0;
    for id in due {
        // Ask the provider about payments still open: one captured meanwhile is settled
        // now instead of letting its order lapse.
        if settle_if_captured(state, &id, now).await? {
            continue;
        }
        let mut tx = state.db.begin().await?;
        if close_unpaid(state, &mut tx, &id, OrderStatus::Expired, now).await? {
            tx.commit().await?;
            expired += 1;
        }
    }
    Ok(expired)
}

/// Asks Xendit about the order's pending invoices (the simulated provider reports through
/// its callback only). True when one was captured and the order was settled.
async fn settle_if_captured(state: &AppState, order_id: &str, now: Millis) -> ApiResult<bool> {
    let Some(xendit) = state.config.xendit() else {
        return Ok(false);
    };
    let pending = store::pending_payments(&state.db, order_id, payments::XENDIT).await?;
    for payment in pending {
        let invoice = match xendit.invoice(&state.http, &payment.provider_ref).await {
            Ok(invoice) => invoice,
            Err(err) => {
                tracing::warn!(payment = %payment.id, error = %err, "could not ask Xendit about a payment");
                continue;
            }
        };
        if matches!(invoice.status.as_str(), "PAID" | "SETTLED") {
            let event_id = format!("{}:PAID", payment.provider_ref);
            let event = ProviderEvent {
                provider: payments::XENDIT,
                event_id: &event_id,
                kind: "payment.paid",
                payment: &payment,
                amount: payment.amount,
                currency: &payment.currency,
            };
            let outcome = apply_provider_event(state, event, now).await?;
            tracing::info!(payment = %payment.id, %outcome, "payment found captured before its order expired");
            return Ok(true);
        }
    }
    Ok(false)
}
