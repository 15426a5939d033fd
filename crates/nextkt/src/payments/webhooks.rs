//! Provider callbacks. Each event is recorded once, in the same transaction as its effect:
//! a duplicate delivery finds its record and changes nothing; a crash leaves neither.
//! These are the routes: they verify the callback token and hand the event to the service.

use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::service::{self, InvoiceCallback, SimulatedCallback};
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
    let expected = service::simulated_callback_token(&state.db, now).await?;
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
    let outcome = service::apply_simulated(
        &state,
        SimulatedCallback {
            event_id: &event.id,
            kind: &event.kind,
            payment_id: &event.payment_id,
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
        let outcome = service::apply_xendit_refund(&state, refund_id, event, now).await?;
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
    let amount = body["paid_amount"]
        .as_i64()
        .or_else(|| body["amount"].as_i64())
        .unwrap_or(-1);
    let outcome = service::apply_xendit_invoice(
        &state,
        InvoiceCallback {
            invoice_id,
            status,
            amount,
            currency: body["currency"].as_str(),
        },
        now,
    )
    .await?;
    Ok(ApiJson(WebhookAnswer { outcome }))
}
