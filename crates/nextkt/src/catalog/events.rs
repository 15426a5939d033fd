//! Events: what is on, when and where, how it is sold. Operators manage them under
//! `/admin/events`; status moves `draft` → `published` → `ended`, or to `cancelled`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::commerce::pricing::FeePayer;
use crate::platform::clock::{Millis, opt_rfc3339, rfc3339};
use crate::platform::db::{Db, Tx};
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::platform::secrets::new_token;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::audit::{self, Change};
use crate::tenancy::roles::Permission;

pub const DEFAULT_HOLD_MINUTES: i64 = 10;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VenueRef {
    /// The Kisum venue id, when the venue comes from Kisum.
    pub id: Option<String>,
    pub name: String,
    pub city: Option<String>,
    pub address: Option<String>,
    pub capacity: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Listed in the storefront.
    Public,
    /// Not listed; reachable by id.
    Unlisted,
    /// Not listed; reachable only with the event's access key.
    Private,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// General admission only.
    Ga,
    /// Seats only.
    Seated,
    /// Both.
    Mixed,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Private => "private",
        }
    }
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Ga => "ga",
            Mode::Seated => "seated",
            Mode::Mixed => "mixed",
        }
    }

    pub fn allows(self, kind: &str) -> bool {
        match self {
            Mode::Ga => kind == "ga",
            Mode::Seated => kind == "seated",
            Mode::Mixed => true,
        }
    }
}

fn parse_enum<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).ok()
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: String,
    pub organization_id: String,
    pub title_json: String,
    pub description_json: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub timezone: String,
    pub venue_json: Option<String>,
    pub city: Option<String>,
    pub artist_ids_json: String,
    pub status: String,
    pub visibility: String,
    pub access_key: Option<String>,
    pub mode: String,
    pub sale_starts_at: Option<i64>,
    pub sale_ends_at: Option<i64>,
    pub max_per_order: Option<i64>,
    pub max_per_buyer: Option<i64>,
    pub hold_seconds: i64,
    pub hold_extension_seconds: i64,
    pub map_image_ref: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub published_at: Option<i64>,
    pub fee_payer: String,
    pub buyer_transfers: i64,
    pub transfer_cutoff_seconds: i64,
    pub currency: String,
}

pub const EVENT_COLUMNS: &str = "id, organization_id, title_json, description_json, starts_at, \
    ends_at, timezone, venue_json, city, artist_ids_json, status, visibility, access_key, mode, \
    sale_starts_at, sale_ends_at, max_per_order, max_per_buyer, hold_seconds, \
    hold_extension_seconds, map_image_ref, created_at, updated_at, published_at, fee_payer, \
    buyer_transfers, transfer_cutoff_seconds, currency";

impl EventRow {
    pub fn mode(&self) -> Mode {
        parse_enum(&self.mode).unwrap_or(Mode::Ga)
    }

    pub fn visibility(&self) -> Visibility {
        parse_enum(&self.visibility).unwrap_or(Visibility::Private)
    }

    pub fn fee_payer(&self) -> FeePayer {
        parse_enum(&self.fee_payer).unwrap_or(FeePayer::Buyer)
    }

    pub fn title(&self) -> BTreeMap<String, String> {
        serde_json::from_str(&self.title_json).unwrap_or_default()
    }

    /// The title in `locale`, or in any language it has.
    pub fn title_in(&self, locale: &str) -> String {
        title_in(&self.title(), locale)
    }

    pub fn venue(&self) -> Option<VenueRef> {
        self.venue_json
            .as_deref()
            .and_then(|v| serde_json::from_str(v).ok())
    }

    /// What an email says of the event, in `locale`: `event` (its title), `event_starts_at`
    /// (RFC 3339, UTC), `event_timezone`, `venue` and `venue_city`. Templates show the start
    /// in the event's zone with the `local_time` filter.
    pub fn email_details(&self, locale: &str) -> serde_json::Map<String, serde_json::Value> {
        let venue = self.venue();
        let city = venue
            .as_ref()
            .and_then(|v| v.city.clone())
            .or_else(|| self.city.clone());
        let mut details = serde_json::Map::new();
        details.insert("event".into(), self.title_in(locale).into());
        details.insert("event_starts_at".into(), rfc3339(self.starts_at).into());
        details.insert("event_timezone".into(), self.timezone.clone().into());
        details.insert("venue".into(), venue.map(|v| v.name).into());
        details.insert("venue_city".into(), city.into());
        details
    }

    /// Whether buyers can put this event's tickets in a cart right now.
    pub fn on_sale(&self, now: Millis) -> Result<(), ApiError> {
        if self.status != "published" {
            return Err(ApiError::rule("not_on_sale", "the event is not on sale"));
        }
        if self.sale_starts_at.is_some_and(|at| now < at) {
            return Err(ApiError::rule(
                "sale_not_started",
                "the sale has not started yet",
            ));
        }
        if self.sale_ends_at.is_some_and(|at| now >= at) || now >= self.ends_at {
            return Err(ApiError::rule("sale_ended", "the sale has ended"));
        }
        Ok(())
    }
}

/// A title in `locale`, or in any language it has.
pub fn title_in(title: &BTreeMap<String, String>, locale: &str) -> String {
    title
        .get(locale)
        .or_else(|| title.values().next())
        .cloned()
        .unwrap_or_default()
}

/// An event as operators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Event {
    pub id: String,
    /// Title by language (`en`, `id`).
    pub title: BTreeMap<String, String>,
    pub description: BTreeMap<String, String>,
    pub starts_at: String,
    pub ends_at: String,
    /// IANA time zone the event is local to.
    pub timezone: String,
    pub venue: Option<VenueRef>,
    /// Kisum artist ids.
    pub artist_ids: Vec<String>,
    /// `draft`, `published`, `ended` or `cancelled`.
    pub status: String,
    pub visibility: Visibility,
    /// For private events: the key a buyer's link carries (`?access_key=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    pub mode: Mode,
    pub sale_starts_at: Option<String>,
    pub sale_ends_at: Option<String>,
    pub max_per_order: Option<i64>,
    pub max_per_buyer: Option<i64>,
    /// How long a cart holds tickets.
    pub hold_minutes: i64,
    /// How much longer a buyer may extend a cart, once (0: no extension).
    pub hold_extension_minutes: i64,
    pub map_image_ref: Option<String>,
    /// Who pays the platform fee: `buyer` (added to the total) or `organizer`.
    pub fee_payer: FeePayer,
    /// ISO 4217: every ticket type of the event is priced in it.
    pub currency: String,
    /// Whether buyers may transfer their tickets to someone else (operators always may).
    pub buyer_transfers: bool,
    /// Buyers' transfers close this many minutes before the event starts.
    pub transfer_cutoff_minutes: i64,
    pub created_at: String,
    pub updated_at: String,
    pub published_at: Option<String>,
}

impl From<EventRow> for Event {
    fn from(row: EventRow) -> Self {
        Event {
            title: row.title(),
            description: serde_json::from_str(&row.description_json).unwrap_or_default(),
            venue: row
                .venue_json
                .as_deref()
                .and_then(|v| serde_json::from_str(v).ok()),
            artist_ids: serde_json::from_str(&row.artist_ids_json).unwrap_or_default(),
            visibility: row.visibility(),
            mode: row.mode(),
            fee_payer: row.fee_payer(),
            id: row.id,
            starts_at: rfc3339(row.starts_at),
            ends_at: rfc3339(row.ends_at),
            timezone: row.timezone,
            status: row.status,
            access_key: row.access_key,
            sale_starts_at: opt_rfc3339(row.sale_starts_at),
            sale_ends_at: opt_rfc3339(row.sale_ends_at),
            max_per_order: row.max_per_order,
            max_per_buyer: row.max_per_buyer,
            hold_minutes: row.hold_seconds / 60,
            hold_extension_minutes: row.hold_extension_seconds / 60,
            buyer_transfers: row.buyer_transfers != 0,
            transfer_cutoff_minutes: row.transfer_cutoff_seconds / 60,
            map_image_ref: row.map_image_ref,
            currency: row.currency,
            created_at: rfc3339(row.created_at),
            updated_at: rfc3339(row.updated_at),
            published_at: opt_rfc3339(row.published_at),
        }
    }
}

/// The event of an organization, or 404.
pub async fn find(db: &Db, org_id: &str, event_id: &str) -> ApiResult<EventRow> {
    let row: Option<EventRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE id = $1 AND organization_id = $2"
    )))
    .bind(event_id.to_string())
    .bind(org_id.to_string())
    .fetch_optional(&db.pool)
    .await?;
    row.ok_or_else(|| ApiError::not_found("event"))
}

pub async fn find_in(db: &Db, tx: &mut Tx, org_id: &str, event_id: &str) -> ApiResult<EventRow> {
    let row: Option<EventRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE id = $1 AND organization_id = $2{}",
        db.for_update()
    )))
    .bind(event_id.to_string())
    .bind(org_id.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    row.ok_or_else(|| ApiError::not_found("event"))
}

/// Fields of an event; on create the required ones must be present, on update any subset.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// Title by language, e.g. `{"en": "Java Jazz", "id": "Java Jazz"}`.
    pub title: Option<BTreeMap<String, String>>,
    pub description: Option<BTreeMap<String, String>>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    /// IANA time zone; the organization's by default.
    pub timezone: Option<String>,
    pub venue: Option<VenueRef>,
    pub artist_ids: Option<Vec<String>>,
    pub visibility: Option<Visibility>,
    pub mode: Option<Mode>,
    /// `""` clears.
    pub sale_starts_at: Option<String>,
    /// `""` clears.
    pub sale_ends_at: Option<String>,
    /// 0 clears.
    pub max_per_order: Option<i64>,
    /// 0 clears.
    pub max_per_buyer: Option<i64>,
    /// 1–60 (default 10).
    pub hold_minutes: Option<i64>,
    /// 0–60 (default 0: carts cannot be extended).
    pub hold_extension_minutes: Option<i64>,
    /// Reference of the venue-map image; `""` clears.
    pub map_image_ref: Option<String>,
    /// Who pays the platform fee: `buyer` (default) or `organizer`.
    pub fee_payer: Option<FeePayer>,
    /// ISO 4217; the organization's by default. Fixed once the event has ticket types.
    pub currency: Option<String>,
    /// Whether buyers may transfer their tickets (default false).
    pub buyer_transfers: Option<bool>,
    /// 0–10080: buyers' transfers close this many minutes before the start (default 0).
    pub transfer_cutoff_minutes: Option<i64>,
}

fn opt_time(field: &str, value: &str) -> ApiResult<Option<i64>> {
    if value.is_empty() {
        Ok(None)
    } else {
        validate::instant(field, value).map(Some)
    }
}

fn opt_limit(field: &str, value: i64) -> ApiResult<Option<i64>> {
    validate::range(field, value, 0, 10_000).map(|v| (v > 0).then_some(v))
}

/// Applies `input` to `row`, checking every field and the rules between them.
fn apply(row: &mut EventRow, input: EventInput) -> ApiResult<()> {
    if let Some(title) = &input.title {
        row.title_json = serde_json::to_string(&validate::localized(
            "title",
            title,
            200,
            validate::Lines::One,
            true,
        )?)
        .unwrap_or_default();
    }
    if let Some(description) = &input.description {
        row.description_json = serde_json::to_string(&validate::localized(
            "description",
            description,
            20_000,
            validate::Lines::Many,
            false,
        )?)
        .unwrap_or_default();
    }
    if let Some(at) = &input.starts_at {
        row.starts_at = validate::instant("starts_at", at)?;
    }
    if let Some(at) = &input.ends_at {
        row.ends_at = validate::instant("ends_at", at)?;
    }
    if let Some(tz) = &input.timezone {
        row.timezone = validate::timezone("timezone", tz)?;
    }
    if let Some(venue) = input.venue {
        let name = validate::text("venue.name", &venue.name, 200)?;
        let city = validate::opt_text("venue.city", venue.city.as_deref(), 100)?;
        let address = validate::opt_text("venue.address", venue.address.as_deref(), 500)?;
        let id = validate::opt_text("venue.id", venue.id.as_deref(), 100)?;
        if let Some(capacity) = venue.capacity {
            validate::range("venue.capacity", capacity, 0, 10_000_000)?;
        }
        row.city = city.clone();
        let venue = VenueRef {
            id,
            name,
            city,
            address,
            ..venue
        };
        row.venue_json = Some(serde_json::to_string(&venue).unwrap_or_default());
    }
    if let Some(artists) = &input.artist_ids {
        if artists.len() > 100
            || artists
                .iter()
                .any(|a| !crate::platform::ids::is_valid_external_id(a))
        {
            return Err(ApiError::invalid("artist_ids", "up to 100 plain ids"));
        }
        row.artist_ids_json = serde_json::to_string(artists).unwrap_or_default();
    }
    if let Some(visibility) = input.visibility {
        row.visibility = visibility.as_str().to_string();
        if visibility == Visibility::Private && row.access_key.is_none() {
            row.access_key = Some(new_token("ev_"));
        }
    }
    if let Some(mode) = input.mode {
        row.mode = mode.as_str().to_string();
    }
    if let Some(at) = &input.sale_starts_at {
        row.sale_starts_at = opt_time("sale_starts_at", at)?;
    }
    if let Some(at) = &input.sale_ends_at {
        row.sale_ends_at = opt_time("sale_ends_at", at)?;
    }
    if let Some(n) = input.max_per_order {
        row.max_per_order = opt_limit("max_per_order", n)?;
    }
    if let Some(n) = input.max_per_buyer {
        row.max_per_buyer = opt_limit("max_per_buyer", n)?;
    }
    if let Some(m) = input.hold_minutes {
        row.hold_seconds = validate::range("hold_minutes", m, 1, 60)? * 60;
    }
    if let Some(m) = input.hold_extension_minutes {
        row.hold_extension_seconds = validate::range("hold_extension_minutes", m, 0, 60)? * 60;
    }
    if let Some(on) = input.buyer_transfers {
        row.buyer_transfers = i64::from(on);
    }
    if let Some(m) = input.transfer_cutoff_minutes {
        row.transfer_cutoff_seconds =
            validate::range("transfer_cutoff_minutes", m, 0, 10_080)? * 60;
    }
    if let Some(currency) = &input.currency {
        row.currency = validate::currency("currency", currency)?;
    }
    if let Some(payer) = input.fee_payer {
        row.fee_payer = match payer {
            FeePayer::Buyer => "buyer",
            FeePayer::Organizer => "organizer",
        }
        .to_string();
    }
    if let Some(map) = &input.map_image_ref {
        row.map_image_ref = if map.is_empty() {
            None
        } else {
            Some(validate::text("map_image_ref", map, 500)?)
        };
    }
    if row.ends_at <= row.starts_at {
        return Err(ApiError::invalid("ends_at", "must be after starts_at"));
    }
    if let (Some(from), Some(to)) = (row.sale_starts_at, row.sale_ends_at)
        && to <= from
    {
        return Err(ApiError::invalid(
            "sale_ends_at",
            "must be after sale_starts_at",
        ));
    }
    if let (Some(order), Some(buyer)) = (row.max_per_order, row.max_per_buyer)
        && order > buyer
    {
        return Err(ApiError::invalid(
            "max_per_order",
            "cannot exceed max_per_buyer",
        ));
    }
    if row.title_json.is_empty() {
        return Err(ApiError::invalid("title", "required"));
    }
    Ok(())
}

fn search_text(row: &EventRow) -> String {
    let mut text: Vec<String> = row.title().into_values().collect();
    if let Some(venue) = row
        .venue_json
        .as_deref()
        .and_then(|v| serde_json::from_str::<VenueRef>(v).ok())
    {
        text.push(venue.name);
    }
    if let Some(city) = &row.city {
        text.push(city.clone());
    }
    text.join(" ").to_lowercase()
}

/// Create an event (as a draft).
#[utoipa::path(
    post, path = "/admin/events", tag = "events",
    request_body = EventInput,
    responses((status = 201, body = Event), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiJson(input): ApiJson<EventInput>,
) -> ApiResult<(StatusCode, ApiJson<Event>)> {
    access.require(Permission::ManageCatalog)?;
    if input.title.is_none() {
        return Err(ApiError::invalid("title", "required"));
    }
    if input.starts_at.is_none() || input.ends_at.is_none() {
        let field = if input.starts_at.is_none() {
            "starts_at"
        } else {
            "ends_at"
        };
        return Err(ApiError::invalid(field, "required"));
    }
    let org = crate::tenancy::organizations::find(&state.db, &access.org_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let now = state.clock.now_ms();
    let mut row = EventRow {
        id: new_id(),
        organization_id: access.org_id.clone(),
        title_json: String::new(),
        description_json: "{}".into(),
        starts_at: 0,
        ends_at: 0,
        timezone: org.timezone,
        venue_json: None,
        city: None,
        artist_ids_json: "[]".into(),
        status: "draft".into(),
        visibility: "public".into(),
        access_key: None,
        mode: "ga".into(),
        sale_starts_at: None,
        sale_ends_at: None,
        max_per_order: None,
        max_per_buyer: None,
        hold_seconds: DEFAULT_HOLD_MINUTES * 60,
        hold_extension_seconds: 0,
        map_image_ref: None,
        created_at: now,
        updated_at: now,
        published_at: None,
        fee_payer: "buyer".into(),
        buyer_transfers: 0,
        transfer_cutoff_seconds: 0,
        currency: org.currency,
    };
    apply(&mut row, input)?;
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO events (id, organization_id, title_json, description_json, starts_at, ends_at, \
         timezone, venue_json, city, artist_ids_json, status, visibility, access_key, mode, \
         sale_starts_at, sale_ends_at, max_per_order, max_per_buyer, hold_seconds, \
         hold_extension_seconds, map_image_ref, search_text, created_at, updated_at, fee_payer, \
         buyer_transfers, transfer_cutoff_seconds, currency) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21, $22, $23, $23, $24, $25, $26, $27)",
    )
    .bind(row.id.clone())
    .bind(row.organization_id.clone())
    .bind(row.title_json.clone())
    .bind(row.description_json.clone())
    .bind(row.starts_at)
    .bind(row.ends_at)
    .bind(row.timezone.clone())
    .bind(row.venue_json.clone())
    .bind(row.city.clone())
    .bind(row.artist_ids_json.clone())
    .bind(row.status.clone())
    .bind(row.visibility.clone())
    .bind(row.access_key.clone())
    .bind(row.mode.clone())
    .bind(row.sale_starts_at)
    .bind(row.sale_ends_at)
    .bind(row.max_per_order)
    .bind(row.max_per_buyer)
    .bind(row.hold_seconds)
    .bind(row.hold_extension_seconds)
    .bind(row.map_image_ref.clone())
    .bind(search_text(&row))
    .bind(now)
    .bind(row.fee_payer.clone())
    .bind(row.buyer_transfers)
    .bind(row.transfer_cutoff_seconds)
    .bind(row.currency.clone())
    .execute(&mut *tx)
    .await?;
    let event: Event = row.into();
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "event.created",
            target_kind: "event",
            target_id: &event.id,
            before: None,
            after: serde_json::to_value(&event).ok(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(event)))
}

async fn save(tx: &mut Tx, row: &EventRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE events SET title_json = $1, description_json = $2, starts_at = $3, ends_at = $4, \
         timezone = $5, venue_json = $6, city = $7, artist_ids_json = $8, status = $9, \
         visibility = $10, access_key = $11, mode = $12, sale_starts_at = $13, sale_ends_at = $14, \
         max_per_order = $15, max_per_buyer = $16, hold_seconds = $17, \
         hold_extension_seconds = $18, map_image_ref = $19, search_text = $20, updated_at = $21, \
         published_at = $22, fee_payer = $25, buyer_transfers = $26, transfer_cutoff_seconds = $27, \
         currency = $28 \
         WHERE id = $23 AND organization_id = $24",
    )
    .bind(row.title_json.clone())
    .bind(row.description_json.clone())
    .bind(row.starts_at)
    .bind(row.ends_at)
    .bind(row.timezone.clone())
    .bind(row.venue_json.clone())
    .bind(row.city.clone())
    .bind(row.artist_ids_json.clone())
    .bind(row.status.clone())
    .bind(row.visibility.clone())
    .bind(row.access_key.clone())
    .bind(row.mode.clone())
    .bind(row.sale_starts_at)
    .bind(row.sale_ends_at)
    .bind(row.max_per_order)
    .bind(row.max_per_buyer)
    .bind(row.hold_seconds)
    .bind(row.hold_extension_seconds)
    .bind(row.map_image_ref.clone())
    .bind(search_text(row))
    .bind(row.updated_at)
    .bind(row.published_at)
    .bind(row.id.clone())
    .bind(row.organization_id.clone())
    .bind(row.fee_payer.clone())
    .bind(row.buyer_transfers)
    .bind(row.transfer_cutoff_seconds)
    .bind(row.currency.clone())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Change an event.
#[utoipa::path(
    patch, path = "/admin/events/{event_id}", tag = "events",
    params(("event_id" = String, Path)),
    request_body = EventInput,
    responses((status = 200, body = Event), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 422, description = "The mode does not fit the event's ticket types (`mode_conflict`)", body = Problem)),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<String>,
    ApiJson(input): ApiJson<EventInput>,
) -> ApiResult<ApiJson<Event>> {
    access.require(Permission::ManageCatalog)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut row = find_in(&state.db, &mut tx, &access.org_id, &event_id).await?;
    let before = serde_json::to_value(Event::from(row.clone())).ok();
    let new_mode = input.mode;
    let old_currency = row.currency.clone();
    apply(&mut row, input)?;
    if row.currency != old_currency {
        let types: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM ticket_types WHERE event_id = $1")
                .bind(row.id.clone())
                .fetch_one(&mut *tx)
                .await?;
        if types > 0 {
            return Err(ApiError::rule(
                "currency_fixed",
                format!(
                    "the event sells in {old_currency}; its currency cannot change once it has ticket types"
                ),
            ));
        }
    }
    if let Some(mode) = new_mode {
        let kinds: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT kind FROM ticket_types WHERE event_id = $1")
                .bind(row.id.clone())
                .fetch_all(&mut *tx)
                .await?;
        if let Some(kind) = kinds.iter().find(|k| !mode.allows(k)) {
            return Err(ApiError::rule(
                "mode_conflict",
                format!(
                    "the event has {kind} ticket types, which mode {} does not allow",
                    mode.as_str()
                ),
            ));
        }
    }
    row.updated_at = now;
    save(&mut tx, &row).await?;
    let event: Event = row.into();
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "event.updated",
            target_kind: "event",
            target_id: &event.id,
            before,
            after: serde_json::to_value(&event).ok(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ApiJson(event))
}

/// One event.
#[utoipa::path(
    get, path = "/admin/events/{event_id}", tag = "events",
    params(("event_id" = String, Path)),
    responses((status = 200, body = Event), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<String>,
) -> ApiResult<ApiJson<Event>> {
    access.require(Permission::ReadOrganization)?;
    Ok(ApiJson(
        find(&state.db, &access.org_id, &event_id).await?.into(),
    ))
}

/// The organization's events, newest first.
#[utoipa::path(
    get, path = "/admin/events", tag = "events",
    params(PageParams),
    responses((status = 200, body = Page<Event>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<Event>>> {
    access.require(Permission::ReadOrganization)?;
    let page = page.parse()?;
    let rows: Vec<EventRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE organization_id = $1 \
         AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3"
    )))
    .bind(access.org_id.clone())
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&state.db.pool)
    .await?;
    Ok(ApiJson(page.finish(rows, |r| &r.id).map(Event::from)))
}

#[derive(Clone, Copy)]
enum Transition {
    Publish,
    Unpublish,
    End,
    Cancel,
}

async fn transition(
    state: &AppState,
    access: &AdminAccess,
    event_id: &str,
    transition: Transition,
) -> ApiResult<ApiJson<Event>> {
    access.require(Permission::ManageCatalog)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut row = find_in(&state.db, &mut tx, &access.org_id, event_id).await?;
    let from = row.status.clone();
    let (allowed, to, action) = match transition {
        Transition::Publish => (from == "draft", "published", "event.published"),
        Transition::Unpublish => (from == "published", "draft", "event.unpublished"),
        Transition::End => (from == "published", "ended", "event.ended"),
        Transition::Cancel => (
            from == "draft" || from == "published",
            "cancelled",
            "event.cancelled",
        ),
    };
    if !allowed {
        return Err(ApiError::rule(
            "invalid_transition",
            format!("a {from} event cannot become {to}"),
        ));
    }
    if let Transition::Publish = transition {
        let types: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM ticket_types WHERE event_id = $1")
                .bind(row.id.clone())
                .fetch_one(&mut *tx)
                .await?;
        if types == 0 {
            return Err(ApiError::rule(
                "no_ticket_types",
                "add a ticket type before publishing",
            ));
        }
        row.published_at.get_or_insert(now);
    }
    row.status = to.to_string();
    row.updated_at = now;
    save(&mut tx, &row).await?;
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action,
            target_kind: "event",
            target_id: &row.id,
            before: Some(serde_json::json!({ "status": from })),
            after: Some(serde_json::json!({ "status": to })),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ApiJson(row.into()))
}

/// Publish a draft event: it goes on sale (within its sale window).
#[utoipa::path(
    post, path = "/admin/events/{event_id}/publish", tag = "events",
    params(("event_id" = String, Path)),
    responses((status = 200, body = Event), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
pub async fn publish(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<String>,
) -> ApiResult<ApiJson<Event>> {
    transition(&state, &access, &event_id, Transition::Publish).await
}

/// Take a published event back to draft: it leaves the storefront and stops selling.
#[utoipa::path(
    post, path = "/admin/events/{event_id}/unpublish", tag = "events",
    params(("event_id" = String, Path)),
    responses((status = 200, body = Event), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
pub async fn unpublish(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<String>,
) -> ApiResult<ApiJson<Event>> {
    transition(&state, &access, &event_id, Transition::Unpublish).await
}

/// Mark a published event as ended.
#[utoipa::path(
    post, path = "/admin/events/{event_id}/end", tag = "events",
    params(("event_id" = String, Path)),
    responses((status = 200, body = Event), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
pub async fn end(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<String>,
) -> ApiResult<ApiJson<Event>> {
    transition(&state, &access, &event_id, Transition::End).await
}

/// Cancel an event.
#[utoipa::path(
    post, path = "/admin/events/{event_id}/cancel", tag = "events",
    params(("event_id" = String, Path)),
    responses((status = 200, body = Event), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
pub async fn cancel(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<String>,
) -> ApiResult<ApiJson<Event>> {
    transition(&state, &access, &event_id, Transition::Cancel).await
}
