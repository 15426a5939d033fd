//! Provider callbacks. Each event is recorded once, in the same transaction as its effect:
//! a duplicate delivery finds its record and changes nothing; a crash leaves neither.

use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{SIMULATED, find, simulated_callback_token};
use crate::commerce::orders;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::secrets::token_hash;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct SimulatedEvent {
    /// Unique per event; deliveries of the same event share it.
    pub id: String,
    /// `payment.paid` or `payment.failed`.
    #[serde(rename = "type")]
    pub kind: String,
    pub payment_id: String,
    pub amount: i64,
    pub currency: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAnswer {
    /// What the event did: `paid`, `failed`, `refunded_late`, `duplicate`, `ignored`, ...
    pub outcome: String,
}

/// Callbacks of the simulated provider, verified by `x-callback-token`.
#[utoipa::path(
    post, path = "/webhooks/simulated", tag = "payments",
    request_body = SimulatedEvent,
    responses((status = 200, body = WebhookAnswer), (status = 401, body = Problem), (status = 404, body = Problem))
)]
pub async fn simulated(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(event): ApiJson<SimulatedEvent>,
) -> ApiResult<ApiJson<WebhookAnswer>> {
    let now = state.clock.now_ms();
    let expected = simulated_callback_token(&state.db, now).await?;
    let presented = headers
        .get("x-callback-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if token_hash(presented) != token_hash(&expected) {
        return Err(ApiError::unauthorized(
            "invalid_callback_token",
            "the callback token is wrong",
        ));
    }
    let payment = find(&state.db, &event.payment_id)
        .await?
        .filter(|p| p.provider == SIMULATED)
        .ok_or_else(|| ApiError::not_found("payment"))?;
    let outcome = orders::apply_provider_event(
        &state,
        orders::ProviderEvent {
            provider: SIMULATED,
            event_id: &event.id,
            kind: &event.kind,
            payment: &payment,
            amount: event.amount,
            currency: &event.currency,
        },
        now,
    )
    .await?;
    Ok(ApiJson(WebhookAnswer { outcome }))
}

/// Callbacks of Xendit, verified by `x-callback-token`: invoice callbacks (`status` PAID,
/// SETTLED or EXPIRED) and refund callbacks (`event` refund.succeeded / refund.failed).
/// Each is applied once: an invoice's callback is keyed by invoice and status, a refund's
/// by its id.
#[utoipa::path(
    post, path = "/webhooks/xendit", tag = "payments",
    request_body = serde_json::Value,
    responses((status = 200, body = WebhookAnswer), (status = 401, body = Problem), (status = 404, body = Problem)),
)]
pub async fn xendit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<ApiJson<WebhookAnswer>> {
    let now = state.clock.now_ms();
    let Some(xendit) = state.config.xendit() else {
        return Err(ApiError::not_found("Xendit integration"));
    };
    let presented = headers
        .get("x-callback-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if token_hash(presented) != token_hash(&xendit.callback_token) {
        return Err(ApiError::unauthorized(
            "invalid_callback_token",
            "the callback token is wrong",
        ));
    }
    if let Some(event) = body["event"].as_str().filter(|e| e.starts_with("refund.")) {
        let refund_id = body["data"]["id"]
            .as_str()
            .ok_or_else(|| ApiError::invalid("data.id", "required"))?;
        let succeeded = event == "refund.succeeded";
        let mut tx = state.db.begin().await?;
        let recorded = super::events::record(
            &mut tx,
            super::events::Received {
                provider: super::XENDIT,
                event_id: &format!("{refund_id}:{event}"),
                payment_id: None,
                kind: event,
                outcome: "applied",
            },
            now,
        )
        .await?;
        if !recorded {
            return Ok(ApiJson(WebhookAnswer {
                outcome: "duplicate".into(),
            }));
        }
        let changed =
            super::refunds::complete(&mut tx, super::XENDIT, refund_id, succeeded, now).await?;
        tx.commit().await?;
        let outcome = match (changed, succeeded) {
            (false, _) => "ignored",
            (true, true) => "refund_succeeded",
            (true, false) => "refund_failed",
        };
        return Ok(ApiJson(WebhookAnswer {
            outcome: outcome.into(),
        }));
    }
    let invoice_id = body["id"]
        .as_str()
        .ok_or_else(|| ApiError::invalid("id", "required"))?;
    let status = body["status"]
        .as_str()
        .ok_or_else(|| ApiError::invalid("status", "required"))?;
    let payment = super::find_by_ref(&state.db, super::XENDIT, invoice_id)
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
    let amount = body["paid_amount"]
        .as_i64()
        .or_else(|| body["amount"].as_i64())
        .unwrap_or(-1);
    let currency = body["currency"]
        .as_str()
        .unwrap_or(&payment.currency)
        .to_string();
    let outcome = orders::apply_provider_event(
        &state,
        orders::ProviderEvent {
            provider: super::XENDIT,
            event_id: &event_id,
            kind,
            payment: &payment,
            amount,
            currency: &currency,
        },
        now,
    )
    .await?;
    Ok(ApiJson(WebhookAnswer { outcome }))
}
