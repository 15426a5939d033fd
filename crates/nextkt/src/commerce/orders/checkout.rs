//! Placing an order: the cart checked again becomes an order, its holds attached, the
//! code's use and the points taken, and a payment opened (or, when free, settled at once),
//! in one transaction.

use axum::http::StatusCode;

use super::payment::settle_paid;
use super::{OrderKind, OrderStatus, store};
use crate::buyers::access::KeyMode;
use crate::commerce::cart::CheckoutCart;
use crate::commerce::discounts;
use crate::commerce::points::{self, Movement};
use crate::ids::OrderId;
use crate::inventory::convert;
use crate::payments;
use crate::platform::clock::Millis;
use crate::platform::error::{ApiError, ApiResult, is_unique_violation};
use crate::state::AppState;

/// An order to place (input already validated).
pub struct Placement<'a> {
    pub org_id: &'a str,
    pub buyer_id: Option<&'a str>,
    pub key_mode: KeyMode,
    pub cart: &'a CheckoutCart,
    pub email: &'a str,
    pub name: &'a str,
    pub locale: &'a str,
    pub return_url: Option<&'a str>,
    pub now: Millis,
}

/// The order placed, and where the buyer pays (none for a free order, paid at once).
pub struct Placed {
    pub order_id: OrderId,
    pub payment_url: Option<String>,
}

#[tracing::instrument(skip_all, fields(org_id = %placement.org_id, cart_id = %placement.cart.cart_id))]
pub async fn place(state: &AppState, placement: Placement<'_>) -> ApiResult<Placed> {
    let Placement {
        org_id,
        buyer_id,
        key_mode,
        cart,
        email,
        name,
        locale,
        return_url,
        now,
    } = placement;
    let quote = &cart.pricing;
    // The simulated provider takes no money: a live storefront key may not sell through
    // it unless the platform says so, and its orders are test orders.
    let simulated = state.config.simulated_payments();
    if simulated
        && quote.total > 0
        && key_mode == KeyMode::Live
        && !state.config.allow_simulated_for_live_keys
    {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "live_payments_unavailable",
            "this server takes test payments only (simulated provider); check out with a test \
             storefront key, or configure a real payment provider",
        ));
    }
    let livemode = !simulated && key_mode != KeyMode::Test;
    let order_id = OrderId::generate();
    // The provider is asked before the transaction opens (its API is a network call).
    let opened = if quote.total > 0 {
        let description = format!("Order {order_id}");
        Some(
            payments::open(
                state,
                payments::OpenRequest {
                    amount: quote.total,
                    currency: &cart.currency,
                    email,
                    description: &description,
                    deadline: cart.deadline,
                    now,
                    return_url,
                },
            )
            .await?,
        )
    } else {
        None
    };
    let mut tx = state.db.begin().await?;
    let order = store::NewOrder {
        id: &order_id,
        org_id,
        event_id: &cart.event_id,
        cart_id: &cart.cart_id,
        buyer_id,
        email,
        name,
        locale,
        status: OrderStatus::PendingPayment.as_str(),
        kind: OrderKind::Sale.as_str(),
        currency: &cart.currency,
        pricing: quote,
        line_types: &cart.line_types,
        discount_id: cart.discount_id.as_deref(),
        fee_payer: &cart.fee_payer,
        payment_deadline: cart.deadline,
        paid_at: None,
        livemode,
    };
    match store::insert(&mut tx, &order, now).await {
        Err(err) if is_unique_violation(&err) => {
            return Err(ApiError::conflict(
                "cart_checked_out",
                "this cart has an order already",
            ));
        }
        other => other?,
    };
    // The holds priced are the holds ordered: if one lapsed meanwhile, start again.
    if convert::attach(&mut tx, &cart.cart_id, &order_id, now).await? != cart.hold_count {
        return Err(ApiError::conflict(
            "hold_expired",
            "an item expired during checkout; review the cart",
        ));
    }
    if let Some(discount_id) = &cart.discount_id {
        discounts::claim_use(&mut tx, discount_id, buyer_id, &order_id).await?;
    }
    if let Some(buyer_id) = buyer_id {
        let movement = Movement {
            org_id,
            buyer_id,
            kind: "spend",
            reference_id: Some(&order_id),
            note: None,
        };
        points::debit(&state.db, &mut tx, &movement, quote.points_used, now).await?;
    }
    let payment_url = match &opened {
        None => {
            settle_paid(state, &mut tx, &order_id, now).await?;
            None
        }
        Some(opened) => {
            payments::record(
                &mut tx,
                opened,
                org_id,
                &order_id,
                quote.total,
                &cart.currency,
                now,
            )
            .await?;
            Some(opened.redirect_url.clone())
        }
    };
    tx.commit().await?;
    Ok(Placed {
        order_id,
        payment_url,
    })
}
