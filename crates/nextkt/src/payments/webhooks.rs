//! Provider callbacks. Each event is recorded once, in the same transaction as its effect:
//! a duplicate delivery finds its record and changes nothing; a crash leaves neither.

use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{SIMULATED, find, simulated_callback_token};
use crate::app::AppState;
use crate::commerce::orders;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::secrets::token_hash;

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
