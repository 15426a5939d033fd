//! Refunds go back through the provider that took the money. A refund is recorded as
//! `requested` in the transaction that decides it (an operator's refund, a late payment);
//! this job then submits it, outside any transaction, and records what the provider says:
//! the simulated provider completes at once; Xendit answers `PENDING` and later calls back.
//! Rows are leased while submitted, so several processes can run the job; failures are
//! retried with backoff. The SQL is in `store`.

mod store;

use super::status::RefundStatus;
use super::{SIMULATED, XENDIT};
use crate::platform::clock::Millis;
use crate::platform::db::Tx;
use crate::state::AppState;

pub use store::{Request, request};

const LEASE_MS: i64 = 60_000;

/// Submits refunds that are due. Returns how many were submitted.
#[tracing::instrument(skip_all)]
pub async fn submit_due(state: &AppState, now: Millis) -> anyhow::Result<usize> {
    let claimed = store::claim_due(&state.db, now + LEASE_MS, now).await?;
    let mut submitted = 0;
    for id in claimed {
        let due = store::due(&state.db, id).await?;
        let outcome = submit(state, &due).await;
        let now = state.clock.now_ms();
        match outcome {
            Ok((provider_ref, status)) => {
                store::submitted(&state.db, &due.id, status, provider_ref, now).await?;
                submitted += 1;
            }
            Err(err) => {
                tracing::warn!(refund = %due.id, attempts = due.attempts, error = %err, "refund not submitted");
                store::retry_at(
                    &state.db,
                    due.id,
                    now + crate::notify::worker::backoff_ms(due.attempts),
                )
                .await?;
            }
        }
    }
    Ok(submitted)
}

/// Sends one refund to its provider: the provider's reference, if it gave one, and its
/// status.
async fn submit(
    state: &AppState,
    due: &store::Due,
) -> anyhow::Result<(Option<String>, RefundStatus)> {
    match due.provider.as_str() {
        SIMULATED => Ok((None, RefundStatus::Succeeded)),
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
                        "SUCCEEDED" => RefundStatus::Succeeded,
                        "FAILED" => RefundStatus::Failed,
                        _ => RefundStatus::Pending,
                    };
                    (Some(answer.id), status)
                }),
            _ => Err(anyhow::anyhow!(
                "Xendit is not configured, or the payment has no invoice"
            )),
        },
        other => Err(anyhow::anyhow!("unknown provider {other}")),
    }
}

/// A provider's word on a refund it was working on.
pub async fn complete(
    tx: &mut Tx,
    provider: &str,
    provider_ref: &str,
    succeeded: bool,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let status = if succeeded {
        RefundStatus::Succeeded
    } else {
        RefundStatus::Failed
    };
    store::finish(tx, provider, provider_ref, status, now).await
}
