//! Changes buyers make to their holds: release, shrink, extend once.

use super::pools;
use crate::platform::clock::Millis;
use crate::platform::db::Db;
use crate::platform::error::{ApiError, ApiResult};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HoldRow {
    pub id: String,
    pub cart_id: String,
    pub event_id: String,
    pub ticket_type_id: String,
    pub seat_id: Option<String>,
    pub quantity: i64,
    pub status: String,
    pub expires_at: i64,
}

const HOLD_COLUMNS: &str =
    "id, cart_id, event_id, ticket_type_id, seat_id, quantity, status, expires_at";

/// A cart's live holds (active and not past their expiry).
pub async fn live_of_cart(
    db: &Db,
    cart_id: &str,
    now: Millis,
) -> Result<Vec<HoldRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {HOLD_COLUMNS} FROM holds WHERE cart_id = $1 AND status = 'active' AND expires_at > $2 \
         ORDER BY id"
    )))
    .bind(cart_id.to_string())
    .bind(now)
    .fetch_all(&db.pool)
    .await
}

/// One live hold of the cart, or 404 (404 also for another cart's hold).
pub async fn live_in_cart(
    db: &Db,
    cart_id: &str,
    hold_id: &str,
    now: Millis,
) -> ApiResult<HoldRow> {
    let row: Option<HoldRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {HOLD_COLUMNS} FROM holds WHERE id = $1 AND cart_id = $2"
    )))
    .bind(hold_id.to_string())
    .bind(cart_id.to_string())
    .fetch_optional(&db.pool)
    .await?;
    let row = row.ok_or_else(|| ApiError::not_found("cart item"))?;
    if row.status != "active" || row.expires_at <= now {
        return Err(ApiError::conflict(
            "hold_expired",
            "this cart item has expired or was removed",
        ));
    }
    Ok(row)
}

/// Releases a hold: its units or seat go back on sale at once.
pub async fn release(db: &Db, cart_id: &str, hold_id: &str, now: Millis) -> ApiResult<()> {
    let hold = live_in_cart(db, cart_id, hold_id, now).await?;
    let mut tx = db.begin().await?;
    if hold.seat_id.is_none() {
        pools::lock(db, &mut tx, &hold.ticket_type_id).await?;
    }
    // Conditional on still being active: a concurrent sweep or release wins once.
    let released: Option<i64> = sqlx::query_scalar(
        "UPDATE holds SET status = 'released', updated_at = $1 WHERE id = $2 AND cart_id = $3 \
         AND status = 'active' RETURNING quantity",
    )
    .bind(now)
    .bind(hold_id.to_string())
    .bind(cart_id.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(quantity) = released else {
        return Err(ApiError::conflict(
            "hold_expired",
            "this cart item has expired or was removed",
        ));
    };
    match &hold.seat_id {
        None => pools::add_held(&mut tx, &hold.ticket_type_id, -quantity, None, now).await?,
        Some(seat_id) => {
            sqlx::query("DELETE FROM seat_claims WHERE seat_id = $1 AND hold_id = $2")
                .bind(seat_id.clone())
                .bind(hold_id.to_string())
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Shrinks a GA hold to `quantity` (at least 1); the difference goes back on sale.
pub async fn shrink(db: &Db, hold: &HoldRow, quantity: i64, now: Millis) -> ApiResult<i64> {
    let mut tx = db.begin().await?;
    pools::lock(db, &mut tx, &hold.ticket_type_id).await?;
    let before: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT quantity FROM holds WHERE id = $1 AND status = 'active' AND expires_at > $2{}",
        db.for_update()
    )))
    .bind(hold.id.clone())
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(before) = before else {
        return Err(ApiError::conflict(
            "hold_expired",
            "this cart item has expired or was removed",
        ));
    };
    if quantity >= before {
        return Ok(before);
    }
    sqlx::query("UPDATE holds SET quantity = $1, updated_at = $2 WHERE id = $3")
        .bind(quantity)
        .bind(now)
        .bind(hold.id.clone())
        .execute(&mut *tx)
        .await?;
    pools::add_held(&mut tx, &hold.ticket_type_id, quantity - before, None, now).await?;
    tx.commit().await?;
    Ok(quantity)
}

/// Extends every live hold of a cart by `extra_secs`, once per cart.
pub async fn extend(db: &Db, cart_id: &str, extra_secs: i64, now: Millis) -> ApiResult<()> {
    let mut tx = db.begin().await?;
    let extended = sqlx::query(
        "UPDATE carts SET extended_at = $1, updated_at = $1 WHERE id = $2 AND extended_at IS NULL",
    )
    .bind(now)
    .bind(cart_id.to_string())
    .execute(&mut *tx)
    .await?;
    if extended.rows_affected() != 1 {
        return Err(ApiError::rule(
            "already_extended",
            "this cart was extended already",
        ));
    }
    let extra = extra_secs * 1000;
    let holds = sqlx::query(
        "UPDATE holds SET expires_at = expires_at + $1, updated_at = $2 \
         WHERE cart_id = $3 AND status = 'active' AND expires_at > $2",
    )
    .bind(extra)
    .bind(now)
    .bind(cart_id.to_string())
    .execute(&mut *tx)
    .await?;
    if holds.rows_affected() == 0 {
        return Err(ApiError::conflict(
            "hold_expired",
            "nothing in this cart is held any more",
        ));
    }
    sqlx::query(
        "UPDATE seat_claims SET expires_at = expires_at + $1 WHERE kind = 'hold' AND expires_at > $2 \
         AND hold_id IN (SELECT id FROM holds WHERE cart_id = $3 AND status = 'active')",
    )
    .bind(extra)
    .bind(now)
    .bind(cart_id.to_string())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Releases every hold of an order (a cancelled order): units and seats go back on sale.
pub async fn release_order(
    db: &Db,
    tx: &mut crate::platform::db::Tx,
    order_id: &str,
    now: Millis,
) -> ApiResult<()> {
    let pools: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT ticket_type_id FROM holds WHERE order_id = $1 AND status = 'active' AND seat_id IS NULL \
         ORDER BY ticket_type_id",
    )
    .bind(order_id.to_string())
    .fetch_all(&mut **tx)
    .await?;
    for pool in pools {
        pools::lock(db, tx, &pool).await?;
        let released: Vec<i64> = sqlx::query_scalar(
            "UPDATE holds SET status = 'released', updated_at = $1 WHERE order_id = $2 AND ticket_type_id = $3 \
             AND seat_id IS NULL AND status = 'active' RETURNING quantity",
        )
        .bind(now)
        .bind(order_id.to_string())
        .bind(pool.clone())
        .fetch_all(&mut **tx)
        .await?;
        pools::add_held(tx, &pool, -released.iter().sum::<i64>(), None, now).await?;
    }
    sqlx::query(
        "DELETE FROM seat_claims WHERE kind = 'hold' AND hold_id IN \
         (SELECT id FROM holds WHERE order_id = $1 AND seat_id IS NOT NULL AND status = 'active')",
    )
    .bind(order_id.to_string())
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE holds SET status = 'released', updated_at = $1 WHERE order_id = $2 AND status = 'active'")
        .bind(now)
        .bind(order_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
