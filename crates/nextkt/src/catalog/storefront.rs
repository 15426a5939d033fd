//! The consumer catalog: what a storefront shows. Drafts are never shown; private events
//! need their access key; hidden ticket types need their unlock code. Availability is
//! computed live from holds and seats on every call.

use std::collections::{HashMap, HashSet};

use axum::extract::{Path, State};
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::events::{EVENT_COLUMNS, Event, EventRow, Mode, Visibility};
use super::seating::{self, Hotspot, Section};
use super::ticket_types::{self, TicketTypeRow};
use crate::buyers::access::StorefrontAccess;
use crate::inventory::pools;
use crate::platform::clock::opt_rfc3339;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::pagination::{DEFAULT_LIMIT, MAX_LIMIT, Page};
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// Events starting at or after this time (RFC 3339).
    pub from: Option<String>,
    /// Events starting before this time (RFC 3339).
    pub to: Option<String>,
    /// City of the venue (any letter case).
    pub city: Option<String>,
    /// Words to find in the title, venue or city.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

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
    // LIKE wildcards in the search text are matched literally.
    let pattern = format!(
        "%{}%",
        words
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let rows: Vec<EventRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE organization_id = $1 AND status = 'published' \
         AND visibility = 'public' AND starts_at >= $2 AND starts_at < $3 \
         AND ($4 = '' OR LOWER(city) = $4) AND search_text LIKE $5 ESCAPE '\\' \
         AND (starts_at > $6 OR (starts_at = $6 AND id > $7)) \
         ORDER BY starts_at, id LIMIT $8"
    )))
    .bind(storefront.org.id.clone())
    .bind(from)
    .bind(to)
    .bind(city)
    .bind(pattern)
    .bind(after_start)
    .bind(after_id)
    .bind(limit + 1)
    .fetch_all(&state.db.pool)
    .await?;
    let more = rows.len() as i64 > limit;
    let mut rows = rows;
    rows.truncate(limit as usize);
    let next_cursor = more.then(|| rows.last()).flatten().map(|r| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}|{}", r.starts_at, r.id))
    });
    Ok(ApiJson(Page {
        items: rows.into_iter().map(public).collect(),
        next_cursor,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventAccess {
    /// Required for private events: the key from the event's link.
    pub access_key: Option<String>,
    /// Shows hidden ticket types this code unlocks.
    pub unlock: Option<String>,
}

/// An event a storefront may show, or 404.
pub async fn visible_event(
    state: &AppState,
    org_id: &str,
    event_id: &str,
    access_key: Option<&str>,
) -> ApiResult<EventRow> {
    let row = super::events::find(&state.db, org_id, event_id).await?;
    if row.status == "draft" {
        return Err(ApiError::not_found("event"));
    }
    if row.visibility() == Visibility::Private && access_key != row.access_key.as_deref() {
        return Err(ApiError::not_found("event"));
    }
    Ok(row)
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
    Path(event_id): Path<String>,
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

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicTicketType {
    pub id: String,
    pub name: String,
    /// `ga` or `seated`.
    pub kind: String,
    pub price: i64,
    pub currency: String,
    pub sale_starts_at: Option<String>,
    pub sale_ends_at: Option<String>,
    pub min_per_order: i64,
    pub max_per_order: Option<i64>,
}

/// The event a storefront may show, with the ticket types this caller may see (hidden
/// ones only with their unlock code).
async fn visible_offer(
    state: &AppState,
    org_id: &str,
    event_id: &str,
    access: &EventAccess,
) -> ApiResult<(EventRow, Vec<TicketTypeRow>)> {
    let event = visible_event(state, org_id, event_id, access.access_key.as_deref()).await?;
    let types = ticket_types::of_event(&state.db, &event.id)
        .await?
        .into_iter()
        .filter(|t| t.unlocked_by(access.unlock.as_deref()))
        .collect();
    Ok((event, types))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Inventory {
    pub event_id: String,
    /// `ga`, `seated` or `mixed`.
    pub mode: Mode,
    pub map_image_ref: Option<String>,
    pub ticket_types: Vec<PublicTicketType>,
    pub sections: Vec<Section>,
    pub hotspots: Vec<Hotspot>,
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
    Path(event_id): Path<String>,
    ApiQuery(access): ApiQuery<EventAccess>,
) -> ApiResult<ApiJson<Inventory>> {
    let (event, types) = visible_offer(&state, &storefront.org.id, &event_id, &access).await?;
    let shown: HashSet<String> = types.iter().map(|t| t.id.clone()).collect();
    let mut sections = seating::sections_of(&state.db, &event.id).await?;
    for section in &mut sections {
        section.seats.retain(|s| shown.contains(&s.ticket_type_id));
    }
    sections.retain(|s| !s.seats.is_empty());
    let section_ids: HashSet<String> = sections.iter().map(|s| s.id.clone()).collect();
    let seat_ids: HashSet<String> = sections
        .iter()
        .flat_map(|s| s.seats.iter().map(|x| x.id.clone()))
        .collect();
    let hotspots = seating::hotspots_of(&state.db, &event.id)
        .await?
        .into_iter()
        .filter(|h| section_ids.contains(&h.target_id) || seat_ids.contains(&h.target_id))
        .collect();
    Ok(ApiJson(Inventory {
        mode: event.mode(),
        map_image_ref: event.map_image_ref.clone(),
        event_id: event.id,
        ticket_types: types
            .into_iter()
            .map(|t| PublicTicketType {
                id: t.id,
                name: t.name,
                kind: t.kind,
                price: t.price,
                currency: t.currency,
                sale_starts_at: opt_rfc3339(t.sale_starts_at),
                sale_ends_at: opt_rfc3339(t.sale_ends_at),
                min_per_order: t.min_per_order,
                max_per_order: t.max_per_order,
            })
            .collect(),
        sections,
        hotspots,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Remaining {
    pub id: String,
    pub remaining: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeatAvailability {
    pub id: String,
    pub available: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Availability {
    pub event_id: String,
    pub ticket_types: Vec<Remaining>,
    pub sections: Vec<Remaining>,
    pub seats: Vec<SeatAvailability>,
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
    Path(event_id): Path<String>,
    ApiQuery(access): ApiQuery<EventAccess>,
) -> ApiResult<ApiJson<Availability>> {
    let (event, types) = visible_offer(&state, &storefront.org.id, &event_id, &access).await?;
    let now = state.clock.now_ms();
    let figures = pools::figures_for_event(&state.db, &event.id, now).await?;
    let claimed: HashSet<String> = sqlx::query_scalar::<_, String>(
        "SELECT seat_id FROM seat_claims WHERE event_id = $1 AND (kind = 'ticket' OR expires_at > $2)",
    )
    .bind(event.id.clone())
    .bind(now)
    .fetch_all(&state.db.pool)
    .await?
    .into_iter()
    .collect();
    let shown: HashSet<&str> = types.iter().map(|t| t.id.as_str()).collect();
    let sections = seating::sections_of(&state.db, &event.id).await?;
    let mut seats = Vec::new();
    let mut per_section: HashMap<String, i64> = HashMap::new();
    for section in &sections {
        for seat in section
            .seats
            .iter()
            .filter(|s| shown.contains(s.ticket_type_id.as_str()))
        {
            let available = !seat.blocked && !claimed.contains(&seat.id);
            *per_section.entry(section.id.clone()).or_default() += i64::from(available);
            seats.push(SeatAvailability {
                id: seat.id.clone(),
                available,
            });
        }
    }
    Ok(ApiJson(Availability {
        event_id: event.id,
        ticket_types: types
            .iter()
            .map(|t| Remaining {
                id: t.id.clone(),
                remaining: figures.get(&t.id).map(|f| f.remaining()).unwrap_or(0),
            })
            .collect(),
        sections: sections
            .iter()
            .filter(|s| per_section.contains_key(&s.id))
            .map(|s| Remaining {
                id: s.id.clone(),
                remaining: per_section[&s.id],
            })
            .collect(),
        seats,
    }))
}
