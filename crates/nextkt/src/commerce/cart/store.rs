//! The SQL of the cart as commerce reads it (carts, holds and seats are inventory's and
//! catalog's; this only reads).

use crate::ids::{BuyerId, CartId, EventId};
use crate::platform::db::Db;

#[derive(sqlx::FromRow)]
pub struct CartRow {
    pub id: CartId,
    pub event_id: EventId,
    pub buyer_id: Option<BuyerId>,
    pub extended_at: Option<i64>,
    pub discount_id: Option<String>,
    pub points: i64,
    /// 1 once the cart became an order.
    pub ordered: i64,
}

/// The organization's cart with this token hash.
pub async fn by_token_hash(
    db: &Db,
    org_id: &str,
    token_hash: &str,
) -> Result<Option<CartRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.id, c.event_id, c.buyer_id, c.extended_at, c.discount_id, c.points, \
         (SELECT COUNT(*) FROM orders o WHERE o.cart_id = c.id) AS ordered FROM carts c \
         WHERE c.token_hash = $1 AND c.organization_id = $2",
    )
    .bind(token_hash.to_string())
    .bind(org_id.to_string())
    .fetch_optional(&db.pool)
    .await
}

/// (seat id, row, number) of the seats the cart holds.
pub async fn seat_labels(
    db: &Db,
    cart_id: &str,
) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id, s.row_label, s.seat_number FROM seats s JOIN holds h ON h.seat_id = s.id \
         WHERE h.cart_id = $1 AND h.status = 'active'",
    )
    .bind(cart_id.to_string())
    .fetch_all(&db.pool)
    .await
}
