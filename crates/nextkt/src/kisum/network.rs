//! The network routes (`/network/*`): read-only views for Kisum's apps of the events and
//! sales that involve one Kisum company — as the organization (provisioned for it: the
//! organization's external reference is the company id), a host, the venue's owner or an
//! artist's owner. The caller is Kisum (the platform's internal key) and names the company
//! with `x-org`; a company sees only what involves it (anything else is 404).

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::catalog::events::{ArtistRef, EVENT_COLUMNS, EventRow, HostRef, VenueRef};
use crate::commerce::sales::{self, DaySales, TypeSales};
use crate::ids::EventId;
use crate::platform::clock::rfc3339;
use crate::platform::db::Db;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::ids::is_valid_external_id;
use crate::platform::json::ApiJson;
use crate::platform::pagination::PageParams;
use crate::platform::query::ApiQuery;
use crate::platform::secrets::same_secret;
use crate::state::AppState;

/// Kisum calling for one of its companies.
pub struct NetworkCaller {
    pub company: String,
}

impl FromRequestParts<AppState> for NetworkCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let Some(expected) = state.config.internal_api_key.as_deref() else {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "network_not_configured",
                "this server has no internal key (NEXTKT_INTERNAL_API_KEY), so the network routes are closed",
            ));
        };
        let presented = parts
            .headers
            .get("x-internal-api-key")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(crate::tenancy::access::missing_credentials)?;
        if !same_secret(presented, expected) {
            return Err(crate::tenancy::access::invalid_credentials());
        }
        let company = parts
            .headers
            .get("x-org")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| is_valid_external_id(v))
            .ok_or_else(|| {
                ApiError::bad_request("x_org_required", "send the Kisum company id in x-org")
            })?;
        Ok(NetworkCaller {
            company: company.to_string(),
        })
    }
}

/// How a company is involved in an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Organizer,
    Host,
    Venue,
    Artist,
}

/// The ways `company` is involved in the event (none: it may not see it).
fn roles(row: &EventRow, external_ref: Option<&str>, company: &str) -> Vec<Role> {
    let mut roles = Vec::new();
    if external_ref == Some(company) {
        roles.push(Role::Organizer);
    }
    let hosts: Vec<HostRef> = serde_json::from_str(&row.hosts_json).unwrap_or_default();
    if hosts
        .iter()
        .any(|h| h.kisum_company_id.as_deref() == Some(company))
    {
        roles.push(Role::Host);
    }
    let venue: Option<VenueRef> = row
        .venue_json
        .as_deref()
        .and_then(|v| serde_json::from_str(v).ok());
    if venue.and_then(|v| v.company_id).as_deref() == Some(company) {
        roles.push(Role::Venue);
    }
    let artists: Vec<ArtistRef> = serde_json::from_str(&row.artists_json).unwrap_or_default();
    if artists
        .iter()
        .any(|a| a.company_id.as_deref() == Some(company))
    {
        roles.push(Role::Artist);
    }
    roles
}

/// Events that may involve `company` (newest first, ids below `before`), each with its
/// organization's external reference; `roles` decides.
async fn candidates(
    db: &Db,
    company: &str,
    before: &str,
    limit: i64,
) -> Result<Vec<(EventRow, Option<String>)>, sqlx::Error> {
    let columns: Vec<String> = EVENT_COLUMNS
        .split(',')
        .map(|c| format!("e.{}", c.trim()))
        .collect();
    let quoted = serde_json::to_string(company).unwrap_or_default();
    let rows: Vec<EventRow> = sqlx::query_as(db.sql(format!(
        "SELECT {} FROM events e JOIN organizations o ON o.id = e.organization_id \
         WHERE ($1 = '' OR e.id < $1) AND (o.external_ref = $2 OR e.hosts_json LIKE $3 \
         OR e.venue_json LIKE $3 OR e.artists_json LIKE $3) ORDER BY e.id DESC LIMIT $4",
        columns.join(", ")
    )))
    .bind(before)
    .bind(company)
    .bind(format!("%{quoted}%"))
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    let mut refs: std::collections::HashMap<String, Option<String>> = Default::default();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let org = row.organization_id.to_string();
        if !refs.contains_key(&org) {
            refs.insert(org.clone(), external_ref(db, &org).await?);
        }
        let external = refs.get(&org).cloned().flatten();
        out.push((row, external));
    }
    Ok(out)
}

/// The partner's reference of an organization (a Kisum company id for Mode A ones).
async fn external_ref(db: &Db, org: &str) -> Result<Option<String>, sqlx::Error> {
    Ok(
        sqlx::query_scalar("SELECT external_ref FROM organizations WHERE id = $1")
            .bind(org)
            .fetch_optional(&db.pool)
            .await?
            .flatten(),
    )
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkEvent {
    pub id: String,
    pub organization_id: String,
    pub title: std::collections::BTreeMap<String, String>,
    pub starts_at: String,
    pub ends_at: String,
    pub timezone: String,
    pub status: String,
    pub venue: Option<VenueRef>,
    pub artists: Vec<ArtistRef>,
    /// How the calling company is involved.
    pub roles: Vec<Role>,
}

fn view(row: &EventRow, roles: Vec<Role>) -> NetworkEvent {
    NetworkEvent {
        id: row.id.to_string(),
        organization_id: row.organization_id.to_string(),
        title: row.title(),
        starts_at: rfc3339(row.starts_at),
        ends_at: rfc3339(row.ends_at),
        timezone: row.timezone.clone(),
        status: row.status.clone(),
        venue: row
            .venue_json
            .as_deref()
            .and_then(|v| serde_json::from_str(v).ok()),
        artists: serde_json::from_str(&row.artists_json).unwrap_or_default(),
        roles,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkEvents {
    pub items: Vec<NetworkEvent>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NetworkPage {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The events that involve the company, newest first.
#[utoipa::path(get, path = "/network/events", tag = "network", params(NetworkPage, ("x-org" = String, Header)),
    responses((status = 200, body = NetworkEvents), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("internal_key" = [])))]
pub async fn events(
    State(state): State<AppState>,
    caller: NetworkCaller,
    ApiQuery(page): ApiQuery<NetworkPage>,
) -> ApiResult<ApiJson<NetworkEvents>> {
    let page = PageParams {
        limit: page.limit,
        cursor: page.cursor,
    }
    .parse()?;
    let mut before = page.bound();
    let mut items = Vec::new();
    let mut next_cursor = None;
    // Candidates the LIKE filter lets through but that do not involve the company are
    // skipped; keep reading until the page is full or nothing is left.
    loop {
        let batch = candidates(&state.db, &caller.company, &before, page.fetch_limit()).await?;
        let exhausted = (batch.len() as i64) < page.fetch_limit();
        for (row, external) in &batch {
            before = row.id.to_string();
            let roles = roles(row, external.as_deref(), &caller.company);
            if roles.is_empty() {
                continue;
            }
            if items.len() as i64 == page.limit {
                next_cursor = Some(service_cursor(&items));
                break;
            }
            items.push(view(row, roles));
        }
        if next_cursor.is_some() || exhausted {
            break;
        }
    }
    Ok(ApiJson(NetworkEvents { items, next_cursor }))
}

fn service_cursor(items: &[NetworkEvent]) -> String {
    use base64::Engine;
    let last = items.last().map(|e| e.id.as_str()).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last.as_bytes())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkDay {
    pub date: String,
    pub orders: i64,
    pub tickets: i64,
    /// Absent for venues and artists.
    pub gross: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkEventDetail {
    pub event: NetworkEvent,
    pub currency: String,
    pub ticket_types: Vec<TypeSales>,
    pub tickets_sold: i64,
    /// Sales per day in the event's zone. Money (`gross`) is shown to the organizer and
    /// hosts only; venues and artists see tickets.
    pub by_day: Vec<NetworkDay>,
    /// Net sales (organizer and hosts only).
    pub net: Option<i64>,
    /// The calling company's attributed share when it is a host.
    pub host_net: Option<i64>,
    /// Tickets checked in at least once.
    pub checked_in: i64,
}

/// One event that involves the company: ticket types with sold / held / capacity, sales per
/// day, check-ins.
#[utoipa::path(get, path = "/network/events/{event_id}", tag = "network",
    params(("event_id" = String, Path), ("x-org" = String, Header)),
    responses((status = 200, body = NetworkEventDetail), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("internal_key" = [])))]
pub async fn event(
    State(state): State<AppState>,
    caller: NetworkCaller,
    Path(event_id): Path<EventId>,
) -> ApiResult<ApiJson<NetworkEventDetail>> {
    let row: EventRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE id = $1"
    )))
    .bind(event_id.as_str())
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or_else(|| ApiError::not_found("event"))?;
    let external = external_ref(&state.db, row.organization_id.as_str()).await?;
    let roles = roles(&row, external.as_deref(), &caller.company);
    if roles.is_empty() {
        return Err(ApiError::not_found("event"));
    }
    let money = roles.contains(&Role::Organizer) || roles.contains(&Role::Host);
    let report = sales::report(&state.db, &row).await?;
    let checked_in: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(DISTINCT c.ticket_id) AS BIGINT) FROM ticket_checkins c \
         JOIN tickets t ON t.id = c.ticket_id WHERE t.event_id = $1",
    )
    .bind(row.id.as_str())
    .fetch_one(&state.db.pool)
    .await?;
    let host_net = report
        .by_host
        .iter()
        .filter(|h| h.kisum_company_id.as_deref() == Some(caller.company.as_str()))
        .map(|h| h.net)
        .reduce(|a, b| a + b);
    let by_day = report
        .by_day
        .into_iter()
        .map(|d: DaySales| NetworkDay {
            date: d.date,
            orders: d.orders,
            tickets: d.tickets,
            gross: money.then_some(d.gross),
        })
        .collect();
    Ok(ApiJson(NetworkEventDetail {
        currency: report.currency,
        ticket_types: report.ticket_types,
        tickets_sold: report.tickets_sold,
        by_day,
        net: money.then_some(report.net),
        host_net,
        checked_in,
        event: view(&row, roles),
    }))
}
