//! Turning an order's holds into sold inventory when it is paid. Holds still live convert
//! as they are. Holds that expired before the payment arrived (a late payment) are claimed
//! again if the stock is still there; if any unit or seat is gone, nothing changes and the
//! caller refunds the order. All of it happens in the caller's transaction. The SQL is in
//! `store` and `pools`.

use std::collections::BTreeMap;

use super::pools;
use super::status::HoldStatus;
use super::store::{self, OrderHold};
use crate::ids::{CartId, OrderId};
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};

/// One admitted person: a unit of a GA ticket type, or a seat.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub ticket_type_id: String,
    pub seat_id: Option<String>,
}

/// Ties the cart's live holds to a new order (at checkout).
pub async fn attach(
    tx: &mut Tx,
    cart_id: &CartId,
    order_id: &OrderId,
    now: Millis,
) -> Result<u64, sqlx::Error> {
    store::attach_to_order(tx, cart_id, order_id, now).await
}

/// Claims the order's inventory for good: `units` admissions, as its lines say. `None` when
/// a late payment finds the stock gone, or the order's holds do not add up to `units` —
/// an order is never paid without all of its tickets.
#[tracing::instrument(skip_all, fields(order = %order_id, units))]
pub async fn claim_for_order(
    db: &Db,
    tx: &mut Tx,
    order_id: &OrderId,
    units: i64,
    now: Millis,
) -> Result<Option<Vec<Claimed>>, sqlx::Error> {
    // Holds an operator released when cancelling the order count as lapsed: claimed again
    // if the stock is still there, like expired ones.
    let holds = store::convertible_of_order(tx, order_id).await?;
    if units <= 0 || holds.iter().map(|h| h.quantity).sum::<i64>() != units {
        tracing::error!(order = %order_id, units, "an order's holds do not match its lines; not claiming");
        return Ok(None);
    }
    let live = |h: &OrderHold| h.status == HoldStatus::Active && h.expires_at > now;

    // General admission: lock each pool (in id order), sweep it, and see that the late
    // units still fit.
    let mut per_pool: BTreeMap<&str, (i64, i64)> = BTreeMap::new(); // (live, late)
    for h in holds.iter().filter(|h| h.seat_id.is_none()) {
        let entry = per_pool.entry(h.ticket_type_id.as_str()).or_default();
        if live(h) {
            entry.0 += h.quantity;
        } else {
            entry.1 += h.quantity;
        }
    }
    for (pool_id, (_, late)) in &per_pool {
        let Some(pool) = pools::lock_live(db, tx, pool_id, now).await? else {
            return Ok(None);
        };
        if *late > pool.left() {
            return Ok(None);
        }
    }
    // Seats: a late seat must be free (its own expired claim is tidied first).
    for h in holds.iter().filter(|h| h.seat_id.is_some() && !live(h)) {
        let seat = h.seat_id.clone().unwrap_or_default();
        store::delete_expired_claim(tx, &seat, now).await?;
        let taken = store::claims_of_seat(tx, &seat).await?;
        if taken > 0 {
            return Ok(None);
        }
    }

    // Everything fits: move the units from held to sold and make the seat claims permanent.
    for (pool_id, (live_units, late_units)) in &per_pool {
        pools::convert_held(tx, pool_id, *live_units, live_units + late_units, now).await?;
    }
    for h in holds.iter().filter(|h| h.seat_id.is_some()) {
        let seat = h.seat_id.clone().unwrap_or_default();
        if live(h) {
            store::claim_to_ticket(tx, &seat, &h.id).await?;
        } else {
            store::insert_ticket_claim(tx, &h.id, now).await?;
        }
    }
    store::convert_order_holds(tx, order_id, now).await?;
    Ok(Some(
        holds
            .iter()
            .flat_map(|h| {
                (0..h.quantity).map(|_| Claimed {
                    ticket_type_id: h.ticket_type_id.clone(),
                    seat_id: h.seat_id.clone(),
                })
            })
            .collect(),
    ))
}

/// Puts refunded tickets' units and seats back on sale.
#[tracing::instrument(skip_all, fields(units = released.len()))]
pub async fn release_sold(
    db: &Db,
    tx: &mut Tx,
    released: &[Claimed],
    now: Millis,
) -> Result<(), sqlx::Error> {
    let mut per_pool: BTreeMap<&str, i64> = BTreeMap::new();
    for claim in released {
        match &claim.seat_id {
            None => *per_pool.entry(claim.ticket_type_id.as_str()).or_default() += 1,
            Some(seat) => store::delete_ticket_claim(tx, seat).await?,
        }
    }
    for (pool_id, units) in per_pool {
        pools::lock(db, tx, pool_id).await?;
        pools::add_sold(tx, pool_id, -units, now).await?;
    }
    Ok(())
}
