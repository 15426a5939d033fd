//! The SQL of payments and platform secrets.

use super::Opened;
use super::status::PaymentStatus;
use crate::ids::OrderId;
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};
use crate::platform::secrets::new_token;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaymentRow {
    pub id: String,
    pub organization_id: String,
    pub order_id: String,
    pub provider: String,
    pub provider_ref: String,
    #[sqlx(try_from = "String")]
    pub status: PaymentStatus,
    pub amount: i64,
    pub currency: String,
    pub redirect_url: String,
    pub created_at: i64,
    pub paid_at: Option<i64>,
    pub return_url: Option<String>,
}

pub const PAYMENT_COLUMNS: &str = "id, organization_id, order_id, provider, provider_ref, status, amount, currency, redirect_url, created_at, paid_at, return_url";

/// Records an opened payment in the checkout transaction.
pub async fn record(
    tx: &mut Tx,
    opened: &Opened,
    org_id: &str,
    order_id: &str,
    amount: i64,
    currency: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO payments (id, organization_id, order_id, provider, provider_ref, status, amount, currency, \
         redirect_url, created_at, updated_at, return_url) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9, $9, $10)",
    )
    .bind(opened.id.clone())
    .bind(org_id.to_string())
    .bind(order_id.to_string())
    .bind(opened.provider)
    .bind(opened.provider_ref.clone())
    .bind(amount)
    .bind(currency.to_string())
    .bind(opened.redirect_url.clone())
    .bind(now)
    .bind(opened.return_url.clone())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The payment, locked for the rest of the transaction.
pub async fn lock(db: &Db, tx: &mut Tx, id: &str) -> Result<PaymentRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1{}",
        db.for_update()
    )))
    .bind(id.to_string())
    .fetch_one(&mut **tx)
    .await
}

/// Sets a payment's status (`paid` also stamps `paid_at`).
pub async fn set_status(
    tx: &mut Tx,
    id: &str,
    status: PaymentStatus,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payments SET status = $1, updated_at = $2, paid_at = CASE WHEN $1 = 'paid' THEN $2 ELSE paid_at END \
         WHERE id = $3",
    )
    .bind(status.as_str())
    .bind(now)
    .bind(id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Lapses an order's payments still waiting for the buyer.
pub async fn expire_pending(tx: &mut Tx, order_id: &str, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE payments SET status = 'expired', updated_at = $1 WHERE order_id = $2 AND status = 'pending'")
        .bind(now)
        .bind(order_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn find_by_ref(
    db: &Db,
    provider: &str,
    provider_ref: &str,
) -> Result<Option<PaymentRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE provider = $1 AND provider_ref = $2"
    )))
    .bind(provider.to_string())
    .bind(provider_ref.to_string())
    .fetch_optional(&db.pool)
    .await
}

pub async fn find(db: &Db, id: &str) -> Result<Option<PaymentRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1"
    )))
    .bind(id.to_string())
    .fetch_optional(&db.pool)
    .await
}

pub async fn of_order(db: &Db, order_id: &OrderId) -> Result<Vec<PaymentRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE order_id = $1 ORDER BY id"
    )))
    .bind(order_id.to_string())
    .fetch_all(&db.pool)
    .await
}

/// A platform secret made once and shared by every process through the database.
pub async fn platform_secret(db: &Db, name: &str, now: Millis) -> Result<String, sqlx::Error> {
    sqlx::query("INSERT INTO platform_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
        .bind(name.to_string())
        .bind(new_token("nkt_cb_"))
        .bind(now)
        .execute(&db.pool)
        .await?;
    sqlx::query_scalar("SELECT value FROM platform_secrets WHERE name = $1")
        .bind(name.to_string())
        .fetch_one(&db.pool)
        .await
}
