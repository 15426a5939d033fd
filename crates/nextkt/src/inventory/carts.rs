//! Carts: where a buyer's holds gather until checkout, and what an order is made from.

use crate::platform::clock::Millis;
use crate::platform::db::{Tx, placeholder_rows};

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
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
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
