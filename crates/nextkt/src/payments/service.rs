//! The rules of payments: opening one with the configured provider, recording what a
//! provider says became of it, and turning provider callbacks into their effects.

use axum::http::StatusCode;

use super::status::PaymentStatus;
use super::store::{self, PaymentRow};
use super::xendit::NewInvoice;
use super::{OpenRequest, Opened, SIMULATED, XENDIT, events, refunds};
use crate::commerce::orders;
use crate::platform::clock::Millis;
use crate::platform::config::PaymentProvider;
use crate::platform::db::{Db, Tx};
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::ids::new_id;
use crate::state::AppState;

/// Opens a payment with the configured provider. For Xendit this calls its API, so it runs
/// before the checkout transaction; an invoice whose order then fails simply expires.
#[tracing::instrument(skip_all, fields(amount = request.amount, currency = request.currency))]
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

/// Records what the provider says became of a payment (`paid` also stamps `paid_at`).
/// Takes a [`PaymentStatus`] or its stored string.
pub async fn mark<S>(tx: &mut Tx, id: &str, status: S, now: Millis) -> Result<(), sqlx::Error>
where
    S: TryInto<PaymentStatus>,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let status = status
        .try_into()
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    store::set_status(tx, id, status, now).await
}

/// The token the simulated provider's callbacks carry in `x-callback-token`.
pub async fn simulated_callback_token(db: &Db, now: Millis) -> Result<String, sqlx::Error> {
    store::platform_secret(db, "simulated_callback_token", now).await
}

/// A payment by id, or 404.
pub async fn payment(db: &Db, id: &str) -> ApiResult<PaymentRow> {
    store::find(db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("payment"))
}

/// A payment of the simulated provider by id, or 404 (also for another provider's).
pub async fn simulated_payment(db: &Db, id: &str) -> ApiResult<PaymentRow> {
    store::find(db, id)
        .await?
        .filter(|p| p.provider == SIMULATED)
        .ok_or_else(|| ApiError::not_found("payment"))
}

/// What a person decided on the simulated pay page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Pay,
    Fail,
}

/// The simulated provider's side of a decision: it calls `/webhooks/simulated` over HTTP,
/// with the callback token, exactly as a provider would.
#[tracing::instrument(skip_all, fields(payment = %payment.id))]
pub async fn simulate_decision(
    state: &AppState,
    payment: &PaymentRow,
    decision: Decision,
) -> ApiResult<()> {
    let kind = match decision {
        Decision::Pay => "payment.paid",
        Decision::Fail => "payment.failed",
    };
    let token = simulated_callback_token(&state.db, state.clock.now_ms()).await?;
    let event = serde_json::json!({
        "id": format!("evt_{}", new_id()),
        "type": kind,
        "payment_id": payment.provider_ref,
        "amount": payment.amount,
        "currency": payment.currency,
    });
    let sent = state
        .http
        .post(format!("{}/webhooks/simulated", state.base_url))
        .header("x-callback-token", token)
        .json(&event)
        .send()
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("calling the webhook: {e}")))?;
    if !sent.status().is_success() {
        return Err(ApiError::internal(anyhow::anyhow!(
            "the webhook answered {}",
            sent.status()
        )));
    }
    Ok(())
}

/// A verified callback of the simulated provider about one of its payments.
pub struct SimulatedCallback<'a> {
    pub event_id: &'a str,
    pub kind: &'a str,
    pub payment_id: &'a str,
    pub amount: i64,
    pub currency: &'a str,
}

/// Applies a simulated provider's callback. Returns what it did.
#[tracing::instrument(skip_all, fields(provider = SIMULATED, event = callback.event_id))]
pub async fn apply_simulated(
    state: &AppState,
    callback: SimulatedCallback<'_>,
    now: Millis,
) -> ApiResult<String> {
    let payment = simulated_payment(&state.db, callback.payment_id).await?;
    orders::apply_provider_event(
        state,
        orders::ProviderEvent {
            provider: SIMULATED,
            event_id: callback.event_id,
            kind: callback.kind,
            payment: &payment,
            amount: callback.amount,
            currency: callback.currency,
        },
        now,
    )
    .await
}

/// Applies Xendit's word on a refund (`refund.succeeded` or `refund.failed`), once per
/// refund and event. Returns what it did.
#[tracing::instrument(skip_all, fields(provider = XENDIT, refund = refund_id))]
pub async fn apply_xendit_refund(
    state: &AppState,
    refund_id: &str,
    event: &str,
    now: Millis,
) -> ApiResult<&'static str> {
    let succeeded = event == "refund.succeeded";
    let mut tx = state.db.begin().await?;
    let recorded = events::record(
        &mut tx,
        events::Received {
            provider: XENDIT,
            event_id: &format!("{refund_id}:{event}"),
            payment_id: None,
            kind: event,
            outcome: "applied",
        },
        now,
    )
    .await?;
    if !recorded {
        return Ok("duplicate");
    }
    let changed = refunds::complete(&mut tx, XENDIT, refund_id, succeeded, now).await?;
    tx.commit().await?;
    Ok(match (changed, succeeded) {
        (false, _) => "ignored",
        (true, true) => "refund_succeeded",
        (true, false) => "refund_failed",
    })
}

/// A verified Xendit invoice callback.
pub struct InvoiceCallback<'a> {
    pub invoice_id: &'a str,
    /// Xendit's invoice status: `PAID`, `SETTLED`, `EXPIRED`, ...
    pub status: &'a str,
    /// What was paid (-1 when Xendit did not say).
    pub amount: i64,
    /// The payment's currency when Xendit did not say.
    pub currency: Option<&'a str>,
}

/// Applies a Xendit invoice callback, once per invoice and status. Returns what it did.
#[tracing::instrument(skip_all, fields(provider = XENDIT, invoice = callback.invoice_id))]
pub async fn apply_xendit_invoice(
    state: &AppState,
    callback: InvoiceCallback<'_>,
    now: Millis,
) -> ApiResult<String> {
    let (invoice_id, status) = (callback.invoice_id, callback.status);
    let payment = store::find_by_ref(&state.db, XENDIT, invoice_id)
        .await?
        .ok_or_else(|| ApiError::not_found("payment"))?;
    let kind = match status {
        "PAID" | "SETTLED" => "payment.paid",
        "EXPIRED" => "payment.failed",
        _ => "payment.other",
    };
    // PAID and SETTLED are the same capture, reported twice.
    let event_id = format!(
        "{invoice_id}:{}",
        if kind == "payment.paid" {
            "PAID"
        } else {
            status
        }
    );
    let currency = callback.currency.unwrap_or(&payment.currency).to_string();
    orders::apply_provider_event(
        state,
        orders::ProviderEvent {
            provider: XENDIT,
            event_id: &event_id,
            kind,
            payment: &payment,
            amount: callback.amount,
            currency: &currency,
        },
        now,
    )
    .await
}
