//! The storefront routes: parse, call the service or the store, map the answer. The
//! storefront key (or internal key and tenant) names the organization.

use axum::extract::{Path, State};
use base64::Engine;

use super::service::{self, visible_event};
use super::store::{self, Listing};
use super::types::{Availability, EventAccess, EventFilter, Inventory};
use crate::buyers::access::StorefrontAccess;
use crate::catalog::events::{Event, EventRow};
use crate::ids::EventId;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::pagination::{DEFAULT_LIMIT, MAX_LIMIT, Page};
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;

fn public(row: EventRow) -> Event {
    let mut event = Event::from(row);
    event.access_key = None;
    event
}

/// Published public events, soonest first.
#[utoipa::path(
    get, path = "/consumer/events", tag = "storefront",
    params(EventFilter),
    responses((status = 200, body = Page<Event>), (status = 400, body = Problem)),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    storefront: StorefrontAccess,
    ApiQuery(filter): ApiQuery<EventFilter>,
) -> ApiResult<ApiJson<Page<Event>>> {
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT);
    validate::range("limit", limit, 1, MAX_LIMIT)?;
    let from = validate::opt_instant("from", filter.from.as_deref())?.unwrap_or(i64::MIN);
    let to = validate::opt_instant("to", filter.to.as_deref())?.unwrap_or(i64::MAX);
    // Cursor: the last event's start and id, so ties on start time page correctly.
    let (after_start, after_id) = match &filter.cursor {
        None => (i64::MIN, String::new()),
        Some(cursor) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                let (start, id) = s.split_once('|')?;
                Some((start.parse().ok()?, id.to_string()))
            })
            .ok_or_else(|| ApiError::invalid("cursor", "the cursor is not valid"))?,
    };
    let city = filter
        .city
        .as_deref()
        .map(|c| c.trim().to_lowercase())
        .unwrap_or_default();
    let words: String = filter.q.as_deref().unwrap_or("").trim().to_lowercase();
    if words.chars().count() > 100 {
        return Err(ApiError::invalid("q", "at most 100 characters"));
    }
    let mut rows = store::listed(
        &state.db,
        Listing {
            org_id: &storefront.org.id,
            from,
            to,
            city: &city,
            words: &words,
            after_start,
            after_id: &after_id,
            // One more than asked: whether it comes tells if there is a next page.
            limit: limit + 1,
        },
    )
    .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more.then(|| rows.last()).flatten().map(|r| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}|{}", r.starts_at, r.id))
    });
    Ok(ApiJson(Page {
        items: rows.into_iter().map(public).collect(),
        next_cursor,
    }))
}

/// One event.
#[utoipa::path(
    get, path = "/consumer/events/{event_id}", tag = "storefront",
    params(("event_id" = String, Path), EventAccess),
    responses((status = 200, body = Event), (status = 404, body = Problem)),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    storefront: StorefrontAccess,
    Path(event_id): Path<EventId>,
    ApiQuery(access): ApiQuery<EventAccess>,
) -> ApiResult<ApiJson<Event>> {
    let row = visible_event(
        &state,
        &storefront.org.id,
        &event_id,
        access.access_key.as_deref(),
    )
    .await?;
    Ok(ApiJson(public(row)))
}

/// What an event sells: ticket types, sections and seats, and the map's hotspots.
#[utoipa::path(
    get, path = "/consumer/events/{event_id}/inventory", tag = "storefront",
    params(("event_id" = String, Path), EventAccess),
    responses((status = 200, body = Inventory), (status = 404, body = Problem)),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn inventory(
    State(state): State<AppState>,
    storefront: StorefrontAccess,
    Path(event_id): Path<EventId>,
    ApiQuery(access): ApiQuery<EventAccess>,
) -> ApiResult<ApiJson<Inventory>> {
    Ok(ApiJson(
        service::inventory(&state, &storefront.org.id, &event_id, &access).await?,
    ))
}

/// Live remaining per ticket type, section and seat (never cached).
#[utoipa::path(
    get, path = "/consumer/events/{event_id}/availability", tag = "storefront",
    params(("event_id" = String, Path), EventAccess),
    responses((status = 200, body = Availability), (status = 404, body = Problem)),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn availability(
    State(state): State<AppState>,
    storefront: StorefrontAccess,
    Path(event_id): Path<EventId>,
    ApiQuery(access): ApiQuery<EventAccess>,
) -> ApiResult<ApiJson<Availability>> {
    Ok(ApiJson(
        service::availability(&state, &storefront.org.id, &event_id, &access).await?,
    ))
}
