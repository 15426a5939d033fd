//! The event outbox: every change of what a company owns is written here in the same
//! transaction as the change, as `company.entitlements.changed` carrying the whole snapshot
//! and its version (a consumer drops versions it has already seen). Consumers read it in
//! order from `GET /internal/events?after=<seq>`.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::clock::{Millis, rfc3339};
use crate::platform::db::Tx;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::ids::new_id;
use crate::platform::internal_key::InternalCaller;
use crate::platform::json::ApiJson;
use crate::platform::query::ApiQuery;
use crate::state::AppState;

pub const ENTITLEMENTS_CHANGED: &str = "company.entitlements.changed";

/// Appends an event. The sequence number is taken from the counter row under its lock, so
/// numbers are handed out in commit order and a reader never sees a gap filled later.
pub async fn publish(
    tx: &mut Tx,
    topic: &str,
    company_id: Option<&str>,
    payload: &serde_json::Value,
    now: Millis,
) -> Result<i64, sqlx::Error> {
    let seq: i64 =
        sqlx::query_scalar("UPDATE outbox_counter SET seq = seq + 1 WHERE id = 1 RETURNING seq")
            .fetch_one(&mut **tx)
            .await?;
    sqlx::query(
        "INSERT INTO outbox_events (seq, id, topic, company_id, payload_json, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(seq)
    .bind(new_id())
    .bind(topic)
    .bind(company_id)
    .bind(payload.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(seq)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Position in the feed; pass the last one seen as `after`.
    pub seq: i64,
    pub id: String,
    #[serde(rename = "type")]
    pub topic: String,
    pub company_id: Option<String>,
    pub payload: serde_json::Value,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventFeed {
    pub events: Vec<Event>,
    /// The `after` for the next read (the last `seq` returned, or the one given).
    pub next_after: i64,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// Events after this sequence number (0 from the start).
    pub after: Option<i64>,
    /// At most this many (1–500, default 100).
    pub limit: Option<i64>,
}

/// The change feed, in commit order.
#[utoipa::path(get, path = "/internal/events", tag = "entitlements", params(FeedParams),
    responses((status = 200, body = EventFeed), (status = 400, body = Problem)), security(("internal_key" = [])))]
pub async fn feed(
    State(state): State<AppState>,
    _caller: InternalCaller,
    ApiQuery(params): ApiQuery<FeedParams>,
) -> ApiResult<ApiJson<EventFeed>> {
    let after = params.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::invalid("after", "after cannot be negative"));
    }
    let limit = params.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "limit must be between 1 and 500",
        ));
    }
    let rows: Vec<(i64, String, String, Option<String>, String, i64)> = sqlx::query_as(
        "SELECT seq, id, topic, company_id, payload_json, created_at FROM outbox_events \
         WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(&state.db.pool)
    .await?;
    let next_after = rows.last().map(|r| r.0).unwrap_or(after);
    let events = rows
        .into_iter()
        .map(|(seq, id, topic, company_id, payload, created_at)| Event {
            seq,
            id,
            topic,
            company_id,
            payload: serde_json::from_str(&payload).unwrap_or_default(),
            created_at: rfc3339(created_at),
        })
        .collect();
    Ok(ApiJson(EventFeed { events, next_after }))
}
