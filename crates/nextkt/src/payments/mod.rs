//! Payment providers behind one boundary. The simulated provider (the default) has a hosted
//! pay page served by Nextkt where a person pays or fails a payment; the page then calls
//! the provider webhook like a real provider would.

pub mod events;
pub mod refunds;
pub mod simulated;
pub mod webhooks;
pub mod xendit;

use serde::Serialize;
use utoipa::ToSchema;

use axum::http::StatusCode;

use self::xendit::NewInvoice;
use crate::platform::clock::{Millis, opt_rfc3339, rfc3339};
use crate::platform::config::PaymentProvider;
use crate::platform::db::{Db, Tx};
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::ids::new_id;
use crate::platform::secrets::new_token;
use crate::state::AppState;

pub const SIMULATED: &str = "simulated";
pub const XENDIT: &str = "xendit";

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
    pub return_url: Option<String>,
}

pub const PAYMENT_COLUMNS: &str = "id, organization_id, order_id, provider, provider_ref, status, amount, currency, redirect_url, created_at, paid_at, return_url";

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

/// A payment opened with a provider, before it is recorded.
pub struct Opened {
    pub id: String,
    pub provider: &'static str,
    pub provider_ref: String,
    pub redirect_url: String,
    /// Where the buyer goes after paying.
    pub return_url: String,
}

pub struct OpenRequest<'a> {
    pub amount: i64,
    pub currency: &'a str,
    pub email: &'a str,
    pub description: &'a str,
    /// Until when the buyer may pay (the holds' expiry).
    pub deadline: Millis,
    pub now: Millis,
    /// The storefront's page to come back to; this server's status page of the payment
    /// when absent.
    pub return_url: Option<&'a str>,
}

/// Opens a payment with the configured provider. For Xendit this calls its API, so it runs
/// before the checkout transaction; an invoice whose order then fails simply expires.
pub async fn open(state: &AppState, request: OpenRequest<'_>) -> ApiResult<Opened> {
    let id = new_id();
    let return_url = request
        .return_url
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}/pay/{id}", state.base_url));
    match state.config.payment_provider {
        PaymentProvider::Simulated => Ok(Opened {
            redirect_url: format!("{}/pay/{id}", state.base_url),
            provider_ref: id.clone(),
            id,
            provider: SIMULATED,
            return_url,
        }),
        PaymentProvider::Xendit => {
            let xendit = state
                .config
                .xendit()
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("Xendit is not configured")))?;
            let invoice = xendit
                .create_invoice(
                    &state.http,
                    NewInvoice {
                        external_id: &id,
                        amount: request.amount,
                        currency: request.currency,
                        payer_email: request.email,
                        description: request.description,
                        duration_secs: (request.deadline - request.now) / 1000,
                        return_url: &return_url,
                    },
                )
                .await
                .map_err(|e| {
                    // The cause (Xendit's address, a TLS or HTTP error, Xendit's answer) is
                    // logged; the buyer learns only that paying is not possible right now.
                    let mut err = ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "payment_provider_unavailable",
                        "the payment provider cannot be reached; try again shortly",
                    );
                    err.source = Some(e.context("creating a Xendit invoice"));
                    err
                })?;
            Ok(Opened {
                id,
                provider: XENDIT,
                provider_ref: invoice.id,
                redirect_url: invoice.invoice_url,
                return_url,
            })
        }
    }
}

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

/// Records what the provider says became of a payment (`paid` also stamps `paid_at`).
pub async fn mark(tx: &mut Tx, id: &str, status: &str, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payments SET status = $1, updated_at = $2, paid_at = CASE WHEN $1 = 'paid' THEN $2 ELSE paid_at END \
         WHERE id = $3",
    )
    .bind(status.to_string())
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
