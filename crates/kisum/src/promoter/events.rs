//! Promoter events and their tiers: what a promoter company plans, at a directory venue
//! with directory artists. Publishing them into Nextkt is `publish.rs`; while a publish run
//! holds an event, changes to it wait (409 `publish_in_progress`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

use crate::auth::access::Member;
use crate::ids::CompanyId;
use crate::platform::clock::{opt_rfc3339, rfc3339};
use crate::platform::db::Tx;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::list::List;
use crate::platform::pagination::PageParams;
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;

const MAX_TIERS: usize = 50;
const MAX_ARTISTS: usize = 50;
/// Nextkt's own bound on a price, in minor units.
const MAX_PRICE: i64 = 1_000_000_000_000;
const MAX_TIER_CAPACITY: i64 = 1_000_000;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EventRow {
    pub id: String,
    pub company_id: String,
    pub title: String,
    pub description: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub timezone: String,
    pub currency: String,
    pub venue_id: String,
    pub artist_ids_json: String,
    pub revision: i64,
    pub nextkt_event_id: Option<String>,
    pub nextkt_create_request: Option<String>,
    pub publish_status: String,
    pub published_revision: Option<i64>,
    pub publish_attempts: i64,
    pub publish_error: Option<String>,
    pub publish_retry_at: Option<i64>,
    pub publish_lease_until: Option<i64>,
    pub published_at: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl EventRow {
    pub fn artist_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.artist_ids_json).unwrap_or_default()
    }

    /// A publish run holds the event now.
    pub fn publishing(&self, now: i64) -> bool {
        self.publish_status == "publishing" && self.publish_lease_until.is_some_and(|t| t > now)
    }
}

pub const COLUMNS: &str = "id, company_id, title, description, starts_at, ends_at, timezone, \
    currency, venue_id, artist_ids_json, revision, nextkt_event_id, nextkt_create_request, \
    publish_status, published_revision, publish_attempts, publish_error, publish_retry_at, \
    publish_lease_until, published_at, created_by, created_at, updated_at";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TierRow {
    pub id: String,
    pub event_id: String,
    pub name: String,
    pub price: i64,
    pub capacity: i64,
    pub sort_order: i64,
    pub nextkt_ticket_type_id: Option<String>,
    pub nextkt_create_request: Option<String>,
}

/// A tier of tickets: one ticket type in Nextkt.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tier {
    pub id: String,
    pub name: String,
    /// Minor units of the event's currency (whole rupiah for IDR).
    pub price: i64,
    pub capacity: i64,
    /// The Nextkt ticket type, once published.
    pub nextkt_ticket_type_id: Option<String>,
}

/// Where the event stands in Nextkt.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ticketing {
    /// `unpublished`, `publishing`, `published` or `failed`.
    pub status: String,
    pub nextkt_event_id: Option<String>,
    /// The revision Nextkt last took in full.
    pub published_revision: Option<i64>,
    /// Whether Nextkt shows the latest revision.
    pub up_to_date: bool,
    /// Publish runs so far.
    pub attempts: i64,
    /// Why the last run failed.
    pub last_error: Option<String>,
    /// When a failed run is tried again by itself (absent: retrying would not help; fix
    /// the event or the link and publish again).
    pub retry_at: Option<String>,
    pub published_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromoterEvent {
    pub id: String,
    pub company_id: String,
    pub title: String,
    pub description: String,
    pub starts_at: String,
    pub ends_at: String,
    /// IANA time zone (the venue's unless given).
    pub timezone: String,
    /// ISO 4217.
    pub currency: String,
    /// A directory venue.
    pub venue_id: String,
    /// Directory artist profiles.
    pub artist_ids: Vec<String>,
    pub tiers: Vec<Tier>,
    /// Grows with every change.
    pub revision: i64,
    pub ticketing: Ticketing,
    pub created_at: String,
    pub updated_at: String,
}

pub fn view(row: EventRow, tiers: Vec<TierRow>) -> PromoterEvent {
    let up_to_date = row.published_revision == Some(row.revision);
    PromoterEvent {
        artist_ids: row.artist_ids(),
        tiers: tiers
            .into_iter()
            .map(|t| Tier {
                id: t.id,
                name: t.name,
                price: t.price,
                capacity: t.capacity,
                nextkt_ticket_type_id: t.nextkt_ticket_type_id,
            })
            .collect(),
        ticketing: Ticketing {
            status: row.publish_status,
            nextkt_event_id: row.nextkt_event_id,
            published_revision: row.published_revision,
            up_to_date,
            attempts: row.publish_attempts,
            last_error: row.publish_error,
            retry_at: opt_rfc3339(row.publish_retry_at),
            published_at: opt_rfc3339(row.published_at),
        },
        id: row.id,
        company_id: row.company_id,
        title: row.title,
        description: row.description,
        starts_at: rfc3339(row.starts_at),
        ends_at: rfc3339(row.ends_at),
        timezone: row.timezone,
        currency: row.currency,
        venue_id: row.venue_id,
        revision: row.revision,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
    }
}

// ---- Store ----

pub async fn tiers_of(conn: &mut AnyConnection, event: &str) -> Result<Vec<TierRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, event_id, name, price, capacity, sort_order, nextkt_ticket_type_id, \
         nextkt_create_request FROM promoter_event_tiers WHERE event_id = $1 ORDER BY sort_order, id",
    )
    .bind(event)
    .fetch_all(conn)
    .await
}

/// The company's event (404 for any other company's).
pub async fn find(
    conn: &mut AnyConnection,
    id: &str,
    company: &CompanyId,
    lock: &str,
) -> ApiResult<EventRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM promoter_events WHERE id = $1 AND company_id = $2{lock}"
    )))
    .bind(id)
    .bind(company.as_str())
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| ApiError::not_found("event"))
}

async fn load(conn: &mut AnyConnection, id: &str, company: &CompanyId) -> ApiResult<PromoterEvent> {
    let row = find(&mut *conn, id, company, "").await?;
    let tiers = tiers_of(conn, id).await?;
    Ok(view(row, tiers))
}

// ---- Checks ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TierInput {
    /// An existing tier's id (to change it); absent for a new tier.
    pub id: Option<String>,
    pub name: String,
    pub price: i64,
    pub capacity: i64,
}

struct CheckedTier {
    id: Option<String>,
    name: String,
    price: i64,
    capacity: i64,
}

fn check_tiers(tiers: &[TierInput]) -> ApiResult<Vec<CheckedTier>> {
    if tiers.len() > MAX_TIERS {
        return Err(ApiError::invalid(
            "tiers",
            format!("at most {MAX_TIERS} tiers"),
        ));
    }
    let mut checked: Vec<CheckedTier> = Vec::with_capacity(tiers.len());
    for (i, tier) in tiers.iter().enumerate() {
        let at = |e: ApiError| e.at_item("tiers", i);
        let name = validate::text("name", &tier.name, 120).map_err(at)?;
        if checked.iter().any(|t| t.name == name) {
            return Err(at(ApiError::invalid("name", "tier names must differ")));
        }
        let price = validate::range("price", tier.price, 0, MAX_PRICE).map_err(at)?;
        let capacity =
            validate::range("capacity", tier.capacity, 1, MAX_TIER_CAPACITY).map_err(at)?;
        checked.push(CheckedTier {
            id: tier.id.clone(),
            name,
            price,
            capacity,
        });
    }
    Ok(checked)
}

/// The directory venue (not archived) and its time zone; 422 `unknown_venue` otherwise.
async fn venue_timezone(conn: &mut AnyConnection, venue: &str) -> ApiResult<String> {
    let tz: Option<String> =
        sqlx::query_scalar("SELECT timezone FROM venues WHERE id = $1 AND archived = 0")
            .bind(venue)
            .fetch_optional(conn)
            .await?;
    tz.ok_or_else(|| {
        ApiError::rule(
            "unknown_venue",
            format!("no venue {venue:?} in the directory"),
        )
    })
}

/// The artist ids, each a directory profile (not archived); 422 `unknown_artist` otherwise.
async fn check_artists(conn: &mut AnyConnection, ids: &[String]) -> ApiResult<Vec<String>> {
    if ids.len() > MAX_ARTISTS {
        return Err(ApiError::invalid(
            "artistIds",
            format!("at most {MAX_ARTISTS} artists"),
        ));
    }
    let mut artists: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        let known: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM artist_profiles WHERE id = $1 AND archived = 0")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
        if known.is_none() {
            return Err(ApiError::rule(
                "unknown_artist",
                format!("no artist {id:?} in the directory"),
            ));
        }
        if !artists.contains(id) {
            artists.push(id.clone());
        }
    }
    Ok(artists)
}

/// A description, or none (`""`).
fn description(value: &str) -> ApiResult<String> {
    if value.trim().is_empty() {
        Ok(String::new())
    } else {
        validate::multiline_text("description", value, 10_000)
    }
}

fn check_times(starts_at: i64, ends_at: i64) -> ApiResult<()> {
    if ends_at <= starts_at {
        return Err(ApiError::invalid(
            "endsAt",
            "the event must end after it starts",
        ));
    }
    Ok(())
}

/// Writes the tiers as given: listed ids are changed, new ones added, unlisted ones
/// removed unless Nextkt already sells them (422 `tier_published`).
async fn write_tiers(tx: &mut Tx, event: &str, tiers: Vec<CheckedTier>, now: i64) -> ApiResult<()> {
    let existing = tiers_of(tx, event).await?;
    for (i, tier) in tiers.iter().enumerate() {
        if let Some(id) = &tier.id
            && !existing.iter().any(|e| &e.id == id)
        {
            return Err(ApiError::not_found("tier").at_item("tiers", i));
        }
    }
    for gone in existing
        .iter()
        .filter(|e| !tiers.iter().any(|t| t.id.as_deref() == Some(&e.id)))
    {
        if gone.nextkt_ticket_type_id.is_some() || gone.nextkt_create_request.is_some() {
            return Err(ApiError::rule(
                "tier_published",
                format!(
                    "tier {:?} is on sale in Nextkt and cannot be removed; lower its capacity instead",
                    gone.name
                ),
            ));
        }
        sqlx::query("DELETE FROM promoter_event_tiers WHERE id = $1")
            .bind(&gone.id)
            .execute(&mut **tx)
            .await?;
    }
    // Names are unique per event: park the kept ones first so a swap of names passes.
    for tier in tiers.iter().filter(|t| t.id.is_some()) {
        sqlx::query("UPDATE promoter_event_tiers SET name = id WHERE id = $1")
            .bind(tier.id.as_deref())
            .execute(&mut **tx)
            .await?;
    }
    for (order, tier) in tiers.into_iter().enumerate() {
        match tier.id {
            Some(id) => {
                sqlx::query(
                    "UPDATE promoter_event_tiers SET name = $2, price = $3, capacity = $4, \
                     sort_order = $5, updated_at = $6 WHERE id = $1",
                )
                .bind(id)
                .bind(tier.name)
                .bind(tier.price)
                .bind(tier.capacity)
                .bind(order as i64)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO promoter_event_tiers (id, event_id, name, price, capacity, \
                     sort_order, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                )
                .bind(new_id())
                .bind(event)
                .bind(tier.name)
                .bind(tier.price)
                .bind(tier.capacity)
                .bind(order as i64)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    Ok(())
}

// ---- Routes (module `promoter`) ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewEvent {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// RFC 3339.
    pub starts_at: String,
    /// RFC 3339.
    pub ends_at: String,
    /// IANA time zone; the venue's by default.
    pub timezone: Option<String>,
    /// ISO 4217 (default IDR). Fixed once the event is in Nextkt.
    pub currency: Option<String>,
    /// A directory venue.
    pub venue_id: String,
    #[serde(default)]
    pub artist_ids: Vec<String>,
    #[serde(default)]
    pub tiers: Vec<TierInput>,
}

/// Plans an event of the company (not yet in Nextkt: publish it).
#[utoipa::path(post, path = "/promoter/events", tag = "promoter", request_body = NewEvent,
    params(("x-org" = String, Header)),
    responses((status = 201, body = PromoterEvent), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 422, description = "`unknown_venue`, `unknown_artist`", body = Problem)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    ApiJson(body): ApiJson<NewEvent>,
) -> ApiResult<(StatusCode, ApiJson<PromoterEvent>)> {
    member.require("promoter.events.manage")?;
    let title = validate::text("title", &body.title, 200)?;
    let description = description(&body.description)?;
    let starts_at = validate::instant("startsAt", &body.starts_at)?;
    let ends_at = validate::instant("endsAt", &body.ends_at)?;
    check_times(starts_at, ends_at)?;
    let currency = validate::currency("currency", body.currency.as_deref().unwrap_or("IDR"))?;
    let tiers = check_tiers(&body.tiers)?;
    if tiers.iter().any(|t| t.id.is_some()) {
        return Err(ApiError::invalid("tiers", "new tiers have no id"));
    }
    let now = state.clock.now_ms();
    let id = new_id();
    let mut tx = state.db.begin().await?;
    let venue_tz = venue_timezone(&mut tx, &body.venue_id).await?;
    let timezone = match &body.timezone {
        Some(tz) => validate::timezone("timezone", tz)?,
        None => venue_tz,
    };
    let artists = check_artists(&mut tx, &body.artist_ids).await?;
    sqlx::query(
        "INSERT INTO promoter_events (id, company_id, title, description, starts_at, ends_at, \
         timezone, currency, venue_id, artist_ids_json, revision, publish_status, \
         publish_attempts, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, 'unpublished', 0, $11, $12, $12)",
    )
    .bind(&id)
    .bind(member.company_id.as_str())
    .bind(&title)
    .bind(&description)
    .bind(starts_at)
    .bind(ends_at)
    .bind(&timezone)
    .bind(&currency)
    .bind(&body.venue_id)
    .bind(serde_json::to_string(&artists).unwrap_or_default())
    .bind(format!("user:{}", member.user_id))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    write_tiers(&mut tx, &id, tiers, now).await?;
    let event = load(&mut tx, &id, &member.company_id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(event)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventChange {
    pub title: Option<String>,
    pub description: Option<String>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub timezone: Option<String>,
    pub currency: Option<String>,
    pub venue_id: Option<String>,
    pub artist_ids: Option<Vec<String>>,
    /// The whole list: tiers with an id are changed, without one added, missing ones
    /// removed (a tier already in Nextkt cannot be removed).
    pub tiers: Option<Vec<TierInput>>,
}

/// Changes an event. A published event shows the change in Nextkt once published again
/// (`ticketing.upToDate` says whether it does).
#[utoipa::path(patch, path = "/promoter/events/{id}", tag = "promoter", request_body = EventChange,
    params(("id" = String, Path), ("x-org" = String, Header)),
    responses((status = 200, body = PromoterEvent), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "`publish_in_progress`", body = Problem),
        (status = 422, description = "`unknown_venue`, `unknown_artist`, `tier_published`, `currency_fixed`", body = Problem)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EventChange>,
) -> ApiResult<ApiJson<PromoterEvent>> {
    member.require("promoter.events.manage")?;
    let tiers = body.tiers.as_deref().map(check_tiers).transpose()?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let row = find(&mut tx, &id, &member.company_id, state.db.for_update()).await?;
    if row.publishing(now) {
        return Err(publish_in_progress());
    }
    let title = match &body.title {
        Some(v) => validate::text("title", v, 200)?,
        None => row.title.clone(),
    };
    let description = match &body.description {
        Some(v) => description(v)?,
        None => row.description.clone(),
    };
    let starts_at = match &body.starts_at {
        Some(v) => validate::instant("startsAt", v)?,
        None => row.starts_at,
    };
    let ends_at = match &body.ends_at {
        Some(v) => validate::instant("endsAt", v)?,
        None => row.ends_at,
    };
    check_times(starts_at, ends_at)?;
    let currency = match &body.currency {
        Some(v) => validate::currency("currency", v)?,
        None => row.currency.clone(),
    };
    if currency != row.currency && row.nextkt_event_id.is_some() {
        return Err(ApiError::rule(
            "currency_fixed",
            format!(
                "the event sells in {} in Nextkt; its currency cannot change",
                row.currency
            ),
        ));
    }
    let venue_id = match &body.venue_id {
        Some(v) => {
            venue_timezone(&mut tx, v).await?;
            v.clone()
        }
        None => row.venue_id.clone(),
    };
    let timezone = match &body.timezone {
        Some(v) => validate::timezone("timezone", v)?,
        None => row.timezone.clone(),
    };
    let artists = match &body.artist_ids {
        Some(ids) => serde_json::to_string(&check_artists(&mut tx, ids).await?).unwrap_or_default(),
        None => row.artist_ids_json.clone(),
    };
    if let Some(tiers) = tiers {
        write_tiers(&mut tx, &id, tiers, now).await?;
    }
    sqlx::query(
        "UPDATE promoter_events SET title = $2, description = $3, starts_at = $4, ends_at = $5, \
         timezone = $6, currency = $7, venue_id = $8, artist_ids_json = $9, \
         revision = revision + 1, updated_at = $10 WHERE id = $1",
    )
    .bind(&id)
    .bind(&title)
    .bind(&description)
    .bind(starts_at)
    .bind(ends_at)
    .bind(&timezone)
    .bind(&currency)
    .bind(&venue_id)
    .bind(&artists)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let event = load(&mut tx, &id, &member.company_id).await?;
    tx.commit().await?;
    Ok(ApiJson(event))
}

pub fn publish_in_progress() -> ApiError {
    ApiError::conflict(
        "publish_in_progress",
        "the event is being published to Nextkt right now; try again in a moment",
    )
}

/// One of the company's events, with where it stands in Nextkt.
#[utoipa::path(get, path = "/promoter/events/{id}", tag = "promoter",
    params(("id" = String, Path), ("x-org" = String, Header)),
    responses((status = 200, body = PromoterEvent), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<PromoterEvent>> {
    member.require("promoter.events.read")?;
    let mut conn = state.db.pool.acquire().await?;
    Ok(ApiJson(load(&mut conn, &id, &member.company_id).await?))
}

/// The company's events.
#[utoipa::path(get, path = "/promoter/events", tag = "promoter", params(PageParams, ("x-org" = String, Header)),
    responses((status = 200, body = List<PromoterEvent>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<List<PromoterEvent>>> {
    member.require("promoter.events.read")?;
    let page = page.parse()?;
    let mut conn = state.db.pool.acquire().await?;
    let rows: Vec<EventRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM promoter_events WHERE company_id = $1 AND ($2 = '' OR id > $2) \
         ORDER BY id LIMIT $3"
    )))
    .bind(member.company_id.as_str())
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&mut *conn)
    .await?;
    let page = page.finish(rows, |r| r.id.as_str());
    let mut items = Vec::with_capacity(page.items.len());
    for row in page.items {
        let tiers = tiers_of(&mut conn, &row.id).await?;
        items.push(view(row, tiers));
    }
    Ok(ApiJson(List {
        items,
        next_cursor: page.next_cursor,
    }))
}
