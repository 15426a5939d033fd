//! Carts: where a buyer's holds gather until checkout, and what an order is made from;
//! besides its holds, a cart keeps the discount code and the points the buyer chose, read
//! back when the cart is priced and at checkout.

use crate::ids::CartId;
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Dialect, Tx, placeholder_rows};

pub struct NewCart<'a> {
    pub id: &'a str,
    pub org_id: &'a str,
    pub event_id: &'a str,
    pub token_hash: &'a str,
    pub buyer_id: Option<&'a str>,
}

/// Writes one new cart.
pub async fn create(tx: &mut Tx, cart: &NewCart<'_>, now: Millis) -> Result<(), sqlx::Error> {
    create_many(tx, std::slice::from_ref(cart), now).await
}

/// Writes new carts in one statement (callers keep a statement to a few hundred rows).
pub async fn create_many(
    tx: &mut Tx,
    carts: &[NewCart<'_>],
    now: Millis,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO carts (id, organization_id, event_id, token_hash, buyer_id, created_at, \
         updated_at) VALUES {}",
        placeholder_rows(carts.len(), 7)
    );
    let mut q = sqlx::query(Dialect::of(tx).sql(sql)).persistent(false);
    for cart in carts {
        q = q
            .bind(cart.id.to_string())
            .bind(cart.org_id.to_string())
            .bind(cart.event_id.to_string())
            .bind(cart.token_hash.to_string())
            .bind(cart.buyer_id.map(str::to_string))
            .bind(now)
            .bind(now);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Sets (or with `None` removes) the cart's discount code.
pub async fn set_discount(
    tx: &mut Tx,
    cart_id: &CartId,
    discount_id: Option<&str>,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE carts SET discount_id = $1, updated_at = $2 WHERE id = $3")
        .bind(discount_id.map(str::to_string))
        .bind(now)
        .bind(cart_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Sets the points to spend on the cart (0 for none).
pub async fn set_points(
    tx: &mut Tx,
    cart_id: &CartId,
    points: i64,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE carts SET points = $1, updated_at = $2 WHERE id = $3")
        .bind(points)
        .bind(now)
        .bind(cart_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Locks a cart's row for the rest of the transaction.
pub async fn lock(db: &Db, tx: &mut Tx, cart_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM carts WHERE id = $1{}",
        db.for_update()
    )))
    .bind(cart_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Notes that the cart's holds were extended; false when they had been already.
pub async fn mark_extended(tx: &mut Tx, cart_id: &str, now: Millis) -> Result<bool, sqlx::Error> {
    let extended = sqlx::query(
        "UPDATE carts SET extended_at = $1, updated_at = $1 WHERE id = $2 AND extended_at IS NULL",
    )
    .bind(now)
    .bind(cart_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(extended.rows_affected() == 1)
}
