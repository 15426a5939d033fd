//! Turning an order's holds into sold inventory when it is paid. Holds still live convert
//! as they are. Holds that expired before the payment arrived (a late payment) are claimed
//! again if the stock is still there; if any unit or seat is gone, nothing changes and the
//! caller refunds the order. All of it happens in the caller's transaction.

use std::collections::BTreeMap;

use super::pools;
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};

/// One admitted person: a unit of a GA ticket type, or a seat.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub ticket_type_id: String,
    pub seat_id: Option<String>,
}

#[derive(sqlx::FromRow)]
struct OrderHold {
    id: String,
    ticket_type_id: String,
    seat_id: Option<String>,
    quantity: i64,
    status: String,
    expires_at: i64,
}

/// Ties the cart's live holds to a new order (at checkout).
pub async fn attach(
    tx: &mut Tx,
    cart_id: &str,
    order_id: &str,
    now: Millis,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE holds SET order_id = $1, updated_at = $2 WHERE cart_id = $3 AND status = 'active' \
         AND expires_at > $2",
    )
    .bind(order_id.to_string())
    .bind(now)
    .bind(cart_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// Claims the order's inventory for good: `units` admissions, as its lines say. `None` when
/// a late payment finds the stock gone, or the order's holds do not add up to `units` —
/// an order is never paid without all of its tickets.
pub async fn claim_for_order(
    db: &Db,
    tx: &mut Tx,
    order_id: &str,
    units: i64,
    now: Millis,
) -> Result<Option<Vec<Claimed>>, sqlx::Error> {
    // Holds an operator released when cancelling the order count as lapsed: claimed again
    // if the stock is still there, like expired ones.
    let holds: Vec<OrderHold> = sqlx::query_as(
        "SELECT id, ticket_type_id, seat_id, quantity, status, expires_at FROM holds \
         WHERE order_id = $1 AND status IN ('active', 'expired', 'released') ORDER BY id",
    )
    .bind(order_id.to_string())
    .fetch_all(&mut **tx)
    .await?;
    if units <= 0 || holds.iter().map(|h| h.quantity).sum::<i64>() != units {
        tracing::error!(order = %order_id, units, "an order's holds do not match its lines; not claiming");
        return Ok(None);
    }
    let live = |h: &OrderHold| h.status == "active" && h.expires_at > now;

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
        sqlx::query(
            "DELETE FROM seat_claims WHERE seat_id = $1 AND kind = 'hold' AND expires_at <= $2",
        )
        .bind(seat.clone())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM seat_claims WHERE seat_id = $1")
            .bind(seat)
            .fetch_one(&mut **tx)
            .await?;
        if taken > 0 {
            return Ok(None);
        }
    }

    // Everything fits: move the units from held to sold and make the seat claims permanent.
    for (pool_id, (live_units, late_units)) in &per_pool {
        sqlx::query(
            "UPDATE inventory_pools SET held = held - $1, sold = sold + $2, updated_at = $3 \
             WHERE ticket_type_id = $4",
        )
        .bind(*live_units)
        .bind(live_units + late_units)
        .bind(now)
        .bind(pool_id.to_string())
        .execute(&mut **tx)
        .await?;
    }
    for h in holds.iter().filter(|h| h.seat_id.is_some()) {
        let seat = h.seat_id.clone().unwrap_or_default();
        if live(h) {
            sqlx::query("UPDATE seat_claims SET kind = 'ticket', expires_at = NULL WHERE seat_id = $1 AND hold_id = $2")
                .bind(seat)
                .bind(h.id.clone())
                .execute(&mut **tx)
                .await?;
        } else {
            sqlx::query(
                "INSERT INTO seat_claims (seat_id, organization_id, event_id, hold_id, kind, expires_at, created_at) \
                 SELECT seat_id, organization_id, event_id, id, 'ticket', NULL, $1 FROM holds WHERE id = $2",
            )
            .bind(now)
            .bind(h.id.clone())
            .execute(&mut **tx)
            .await?;
        }
    }
    sqlx::query("UPDATE holds SET status = 'converted', updated_at = $1 WHERE order_id = $2 AND status IN ('active', 'expired', 'released')")
        .bind(now)
        .bind(order_id.to_string())
        .execute(&mut **tx)
        .await?;
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
            Some(seat) => {
                sqlx::query("DELETE FROM seat_claims WHERE seat_id = $1 AND kind = 'ticket'")
                    .bind(seat.clone())
                    .execute(&mut **tx)
                    .await?;
            }
        }
    }
    for (pool_id, units) in per_pool {
        pools::lock(db, tx, pool_id).await?;
        pools::add_sold(tx, pool_id, -units, now).await?;
    }
    Ok(())
}
