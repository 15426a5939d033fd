//! Changes buyers make to their holds: release, shrink, extend once. The SQL is in `store`.

use super::status::HoldStatus;
use super::{carts, pools, store};
use crate::ids::OrderId;
use crate::platform::clock::Millis;
use crate::platform::db::Db;
use crate::platform::error::{ApiError, ApiResult};

pub use super::store::HoldRow;

fn hold_gone() -> ApiError {
    ApiError::conflict("hold_expired", "this cart item has expired or was removed")
}

/// A cart's live holds (active and not past their expiry).
pub async fn live_of_cart(
    db: &Db,
    cart_id: &str,
    now: Millis,
) -> Result<Vec<HoldRow>, sqlx::Error> {
    store::live_holds_of_cart(db, cart_id, now).await
}

/// One live hold of the cart, or 404 (404 also for another cart's hold).
pub async fn live_in_cart(
    db: &Db,
    cart_id: &str,
    hold_id: &str,
    now: Millis,
) -> ApiResult<HoldRow> {
    let row = store::hold_in_cart(db, cart_id, hold_id)
        .await?
        .ok_or_else(|| ApiError::not_found("cart item"))?;
    if row.status != HoldStatus::Active || row.expires_at <= now {
        return Err(hold_gone());
    }
    Ok(row)
}

/// Releases a hold: its units or seat go back on sale at once.
#[tracing::instrument(skip_all, fields(cart = cart_id, hold = hold_id))]
pub async fn release(db: &Db, cart_id: &str, hold_id: &str, now: Millis) -> ApiResult<()> {
    let hold = live_in_cart(db, cart_id, hold_id, now).await?;
    let mut tx = db.begin().await?;
    if hold.seat_id.is_none() {
        pools::lock(db, &mut tx, &hold.ticket_type_id).await?;
    }
    // Conditional on still being active: a concurrent sweep or release wins once.
    let Some(quantity) = store::release_hold(&mut tx, cart_id, hold_id, now).await? else {
        return Err(hold_gone());
    };
    match &hold.seat_id {
        None => pools::add_held(&mut tx, &hold.ticket_type_id, -quantity, None, now).await?,
        Some(seat_id) => store::delete_hold_claim(&mut tx, seat_id, hold_id).await?,
    }
    tx.commit().await?;
    Ok(())
}

/// Shrinks a GA hold to `quantity` (at least 1); the difference goes back on sale.
#[tracing::instrument(skip_all, fields(hold = %hold.id, quantity))]
pub async fn shrink(db: &Db, hold: &HoldRow, quantity: i64, now: Millis) -> ApiResult<i64> {
    let mut tx = db.begin().await?;
    pools::lock(db, &mut tx, &hold.ticket_type_id).await?;
    let Some(before) = store::lock_live_quantity(db, &mut tx, &hold.id, now).await? else {
        return Err(hold_gone());
    };
    if quantity >= before {
        return Ok(before);
    }
    store::set_quantity(&mut tx, &hold.id, quantity, now).await?;
    pools::add_held(&mut tx, &hold.ticket_type_id, quantity - before, None, now).await?;
    tx.commit().await?;
    Ok(quantity)
}

/// Extends every live hold of a cart by `extra_secs`, once per cart.
#[tracing::instrument(skip_all, fields(cart = cart_id))]
pub async fn extend(db: &Db, cart_id: &str, extra_secs: i64, now: Millis) -> ApiResult<()> {
    let mut tx = db.begin().await?;
    if !carts::mark_extended(&mut tx, cart_id, now).await? {
        return Err(ApiError::rule(
            "already_extended",
            "this cart was extended already",
        ));
    }
    let extra = extra_secs * 1000;
    if store::extend_cart_holds(&mut tx, cart_id, extra, now).await? == 0 {
        return Err(ApiError::conflict(
            "hold_expired",
            "nothing in this cart is held any more",
        ));
    }
    store::extend_cart_claims(&mut tx, cart_id, extra, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Releases every hold of an order (a cancelled order): units and seats go back on sale.
#[tracing::instrument(skip_all, fields(order = %order_id))]
pub async fn release_order(
    db: &Db,
    tx: &mut crate::platform::db::Tx,
    order_id: &OrderId,
    now: Millis,
) -> ApiResult<()> {
    for pool in store::order_pools(tx, order_id).await? {
        pools::lock(db, tx, &pool).await?;
        let released = store::release_order_pool(tx, order_id, &pool, now).await?;
        pools::add_held(tx, &pool, -released.iter().sum::<i64>(), None, now).await?;
    }
    store::delete_order_claims(tx, order_id).await?;
    store::release_order_holds(tx, order_id, now).await?;
    Ok(())
}
