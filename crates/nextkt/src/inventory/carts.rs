//! What a buyer chose for a cart besides its holds: the discount code and the points to
//! spend, read back when the cart is priced and at checkout.

use crate::platform::clock::Millis;
use crate::platform::db::Tx;

/// Sets (or with `None` removes) the cart's discount code.
pub async fn set_discount(
    tx: &mut Tx,
    cart_id: &str,
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
    cart_id: &str,
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
