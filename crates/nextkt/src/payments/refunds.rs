//! Refunds go back through the provider that took the money. A refund is recorded as
//! `requested` in the transaction that decides it (an operator's refund, a late payment);
//! this job then submits it, outside any transaction, and records what the provider says:
//! the simulated provider completes at once; Xendit answers `PENDING` and later calls back.
//! Rows are leased while submitted, so several processes can run the job; failures are
//! retried with backoff.

use super::{SIMULATED, XENDIT};
use crate::platform::clock::Millis;
use crate::platform::db::Tx;
use crate::platform::ids::new_id;
use crate::state::AppState;
use service::jobs::Lease;

const LEASE_MS: i64 = 60_000;

const CLAIM: Lease = Lease {
    table: "refunds",
    work: "status = 'requested'",
    also_set: "attempts = attempts + 1",
    limit: 20,
    returning: "id",
};

/// Records a refund to be submitted to the payment's provider.
pub struct Request<'a> {
    pub org_id: &'a str,
    pub order_id: &'a str,
    pub payment_id: Option<&'a str>,
    pub provider: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub reason: Option<&'a str>,
    pub return_to_sale: bool,
    pub created_by_kind: &'a str,
    pub created_by_id: &'a str,
}

pub async fn request(tx: &mut Tx, r: Request<'_>, now: Millis) -> Result<String, sqlx::Error> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO refunds (id, organization_id, order_id, amount, currency, status, reason, return_to_sale, \
         provider, payment_id, created_by_kind, created_by_id, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, 'requested', $6, $7, $8, $9, $10, $11, $12, $12)",
    )
    .bind(id.clone())
    .bind(r.org_id.to_string())
    .bind(r.order_id.to_string())
    .bind(r.amount)
    .bind(r.currency.to_string())
    .bind(r.reason.map(str::to_string))
    .bind(i64::from(r.return_to_sale))
    .bind(r.provider.to_string())
    .bind(r.payment_id.map(str::to_string))
    .bind(r.created_by_kind.to_string())
    .bind(r.created_by_id.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

#[derive(sqlx::FromRow)]
struct Due {
    id: String,
    amount: i64,
    provider: String,
    attempts: i64,
    reason: Option<String>,
    invoice_id: Option<String>,
}

/// Submits refunds that are due. Returns how many were submitted.
pub async fn submit_due(state: &AppState, now: Millis) -> anyhow::Result<usize> {
    let claimed: Vec<String> = sqlx::query_scalar(CLAIM.sql(state.db.dialect))
        .bind(now + LEASE_MS)
        .bind(now)
        .fetch_all(&state.db.pool)
        .await?;
    let mut submitted = 0;
    for id in claimed {
        let due: Due = sqlx::query_as(
            "SELECT r.id, r.amount, r.provider, r.attempts, r.reason, p.provider_ref AS invoice_id \
             FROM refunds r LEFT JOIN payments p ON p.id = r.payment_id WHERE r.id = $1",
        )
        .bind(id)
        .fetch_one(&state.db.pool)
        .await?;
        let outcome: anyhow::Result<(Option<String>, &str)> = match due.provider.as_str() {
            SIMULATED => Ok((None, "succeeded")),
            XENDIT => match (state.config.xendit(), &due.invoice_id) {
                (Some(xendit), Some(invoice)) => xendit
                    .refund(
                        &state.http,
                        invoice,
                        due.amount,
                        &due.id,
                        due.reason.as_deref().unwrap_or("REQUESTED_BY_CUSTOMER"),
                    )
                    .await
                    .map(|answer| {
                        let status = match answer.status.to_ascii_uppercase().as_str() {
                            "SUCCEEDED" => "succeeded",
                            "FAILED" => "failed",
                            _ => "pending",
                        };
                        (Some(answer.id), status)
                    }),
                _ => Err(anyhow::anyhow!(
                    "Xendit is not configured, or the payment has no invoice"
                )),
            },
            other => Err(anyhow::anyhow!("unknown provider {other}")),
        };
        let now = state.clock.now_ms();
        match outcome {
            Ok((provider_ref, status)) => {
                sqlx::query(
                    "UPDATE refunds SET status = $1, provider_ref = COALESCE($2, provider_ref), \
                     completed_at = CASE WHEN $1 IN ('succeeded', 'failed') THEN $3 ELSE NULL END WHERE id = $4",
                )
                .bind(status)
                .bind(provider_ref)
                .bind(now)
                .bind(due.id.clone())
                .execute(&state.db.pool)
                .await?;
                submitted += 1;
            }
            Err(err) => {
                tracing::warn!(refund = %due.id, attempts = due.attempts, error = %err, "refund not submitted");
                sqlx::query("UPDATE refunds SET next_attempt_at = $1 WHERE id = $2")
                    .bind(now + crate::notify::worker::backoff_ms(due.attempts))
                    .bind(due.id)
                    .execute(&state.db.pool)
                    .await?;
            }
        }
    }
    Ok(submitted)
}

/// A provider's word on a refund it was working on.
pub async fn complete(
    tx: &mut Tx,
    provider: &str,
    provider_ref: &str,
    succeeded: bool,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE refunds SET status = $1, completed_at = $2 WHERE provider = $3 AND provider_ref = $4 \
         AND status IN ('requested', 'pending')",
    )
    .bind(if succeeded { "succeeded" } else { "failed" })
    .bind(now)
    .bind(provider.to_string())
    .bind(provider_ref.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
