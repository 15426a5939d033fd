//! Payment providers behind one boundary. The simulated provider (the default) has a hosted
//! pay page served by Nextkt where a person pays or fails a payment; the page then calls
//! the provider webhook like a real provider would.

pub mod simulated;
pub mod webhooks;

use serde::Serialize;
use utoipa::ToSchema;

use crate::platform::clock::{Millis, opt_rfc3339, rfc3339};
use crate::platform::db::{Db, Tx};
use crate::platform::ids::new_id;
use crate::platform::secrets::new_token;

pub const SIMULATED: &str = "simulated";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaymentRow {
    pub id: String,
    pub organization_id: String,
    pub order_id: String,
    pub provider: String,
    pub provider_ref: String,
    pub status: String,
    pub amount: i64,
    pub currency: String,
    pub redirect_url: String,
    pub created_at: i64,
    pub paid_at: Option<i64>,
}

pub const PAYMENT_COLUMNS: &str = "id, organization_id, order_id, provider, provider_ref, status, amount, currency, redirect_url, created_at, paid_at";

#[derive(Debug, Serialize, ToSchema)]
pub struct Payment {
    pub id: String,
    pub provider: String,
    /// `pending`, `paid`, `failed` or `expired`.
    pub status: String,
    pub amount: i64,
    pub currency: String,
    /// Where to send the buyer to pay.
    pub redirect_url: String,
    pub created_at: String,
    pub paid_at: Option<String>,
}

impl PaymentRow {
    pub fn to_api(&self) -> Payment {
        Payment {
            id: self.id.clone(),
            provider: self.provider.clone(),
            status: self.status.clone(),
            amount: self.amount,
            currency: self.currency.clone(),
            redirect_url: self.redirect_url.clone(),
            created_at: rfc3339(self.created_at),
            paid_at: opt_rfc3339(self.paid_at),
        }
    }
}

/// Opens a payment for an order with the configured provider (the simulated one for now).
pub async fn create(
    tx: &mut Tx,
    base_url: &str,
    org_id: &str,
    order_id: &str,
    amount: i64,
    currency: &str,
    now: Millis,
) -> Result<PaymentRow, sqlx::Error> {
    let id = new_id();
    let row = PaymentRow {
        redirect_url: format!("{base_url}/pay/{id}"),
        provider_ref: id.clone(),
        id,
        organization_id: org_id.to_string(),
        order_id: order_id.to_string(),
        provider: SIMULATED.to_string(),
        status: "pending".into(),
        amount,
        currency: currency.to_string(),
        created_at: now,
        paid_at: None,
    };
    sqlx::query(
        "INSERT INTO payments (id, organization_id, order_id, provider, provider_ref, status, amount, currency, \
         redirect_url, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9, $9)",
    )
    .bind(row.id.clone())
    .bind(row.organization_id.clone())
    .bind(row.order_id.clone())
    .bind(row.provider.clone())
    .bind(row.provider_ref.clone())
    .bind(amount)
    .bind(row.currency.clone())
    .bind(row.redirect_url.clone())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(row)
}

pub async fn find(db: &Db, id: &str) -> Result<Option<PaymentRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1"
    )))
    .bind(id.to_string())
    .fetch_optional(&db.pool)
    .await
}

pub async fn of_order(db: &Db, order_id: &str) -> Result<Vec<PaymentRow>, sqlx::Error> {
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

/// The token the simulated provider's callbacks carry in `x-callback-token`.
pub async fn simulated_callback_token(db: &Db, now: Millis) -> Result<String, sqlx::Error> {
    platform_secret(db, "simulated_callback_token", now).await
}
