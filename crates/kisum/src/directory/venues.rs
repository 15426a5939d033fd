//! Venues and their spaces.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::{IntoParams, ToSchema};

use super::{country, like_pattern, search_key, urls};
use crate::auth::access::Member;
use crate::ids::CompanyId;
use crate::platform::clock::rfc3339;
use crate::platform::db::Tx;
use crate::platform::error::{ApiError, ApiResult, Problem, is_unique_violation};
use crate::platform::ids::new_id;
use crate::platform::internal_key::InternalCaller;
use crate::platform::json::ApiJson;
use crate::platform::list::List;
use crate::platform::pagination::PageParams;
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;

/// The layouts a space can be set in.
pub const LAYOUTS: [&str; 7] = [
    "standing",
    "seated",
    "theatre",
    "cabaret",
    "banquet",
    "classroom",
    "mixed",
];
const MAX_CAPACITY: i64 = 10_000_000;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct VenueRow {
    pub id: String,
    pub company_id: String,
    pub name: String,
    pub address: String,
    pub city: String,
    pub country: String,
    pub latitude_e6: Option<i64>,
    pub longitude_e6: Option<i64>,
    pub timezone: String,
    pub capacity: i64,
    pub images_json: String,
    pub archived: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Space {
    pub id: String,
    pub name: String,
    pub capacity: i64,
    /// `standing`, `seated`, `theatre`, `cabaret`, `banquet`, `classroom`, `mixed`.
    pub layouts: Vec<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Venue {
    pub id: String,
    /// The venue company that owns it.
    pub company_id: String,
    pub name: String,
    pub address: String,
    pub city: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// IANA time zone.
    pub timezone: String,
    pub capacity: i64,
    pub spaces: Vec<Space>,
    pub images: Vec<String>,
    /// Archived venues leave the lists but stay readable by id.
    pub archived: bool,
    pub created_at: String,
    pub updated_at: String,
}

fn degrees(e6: Option<i64>) -> Option<f64> {
    e6.map(|v| v as f64 / 1_000_000.0)
}

fn view(row: VenueRow, spaces: Vec<Space>) -> Venue {
    Venue {
        images: serde_json::from_str(&row.images_json).unwrap_or_default(),
        latitude: degrees(row.latitude_e6),
        longitude: degrees(row.longitude_e6),
        id: row.id,
        company_id: row.company_id,
        name: row.name,
        address: row.address,
        city: row.city,
        country: row.country,
        timezone: row.timezone,
        capacity: row.capacity,
        spaces,
        archived: row.archived != 0,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
    }
}

// ---- Store ----

const COLUMNS: &str = "id, company_id, name, address, city, country, latitude_e6, longitude_e6, \
    timezone, capacity, images_json, archived, created_at, updated_at";

async fn spaces_of(conn: &mut AnyConnection, venue: &str) -> Result<Vec<Space>, sqlx::Error> {
    let rows: Vec<(String, String, i64, String)> = sqlx::query_as(
        "SELECT id, name, capacity, layouts_json FROM venue_spaces WHERE venue_id = $1 \
         ORDER BY sort_order, id",
    )
    .bind(venue)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, capacity, layouts)| Space {
            id,
            name,
            capacity,
            layouts: serde_json::from_str(&layouts).unwrap_or_default(),
        })
        .collect())
}

/// A venue by id; `owner` limits it to that company's.
async fn load(conn: &mut AnyConnection, id: &str, owner: Option<&CompanyId>) -> ApiResult<Venue> {
    let row: VenueRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM venues WHERE id = $1 AND ($2 = '' OR company_id = $2)"
    )))
    .bind(id)
    .bind(owner.map(|c| c.as_str()).unwrap_or_default())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found("venue"))?;
    let spaces = spaces_of(conn, &row.id).await?;
    Ok(view(row, spaces))
}

async fn with_spaces(conn: &mut AnyConnection, rows: Vec<VenueRow>) -> ApiResult<Vec<Venue>> {
    let mut venues = Vec::with_capacity(rows.len());
    for row in rows {
        let spaces = spaces_of(conn, &row.id).await?;
        venues.push(view(row, spaces));
    }
    Ok(venues)
}

// ---- Checks ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSpace {
    pub name: String,
    pub capacity: i64,
    pub layouts: Vec<String>,
}

fn check_space(space: &NewSpace) -> ApiResult<(String, i64, Vec<String>)> {
    let name = validate::text("name", &space.name, 120)?;
    let capacity = validate::range("capacity", space.capacity, 1, MAX_CAPACITY)?;
    if space.layouts.is_empty() {
        return Err(ApiError::invalid("layouts", "name at least one layout"));
    }
    let mut layouts = Vec::new();
    for layout in &space.layouts {
        if !LAYOUTS.contains(&layout.as_str()) {
            return Err(ApiError::invalid(
                "layouts",
                format!("layouts are {}", LAYOUTS.join(", ")),
            ));
        }
        if !layouts.contains(layout) {
            layouts.push(layout.clone());
        }
    }
    Ok((name, capacity, layouts))
}

fn coordinate(field: &str, value: Option<f64>, limit: f64) -> ApiResult<Option<i64>> {
    match value {
        None => Ok(None),
        Some(v) if v.is_finite() && v.abs() <= limit => Ok(Some((v * 1_000_000.0).round() as i64)),
        Some(_) => Err(ApiError::invalid(
            field,
            format!("{field} must be between -{limit} and {limit}"),
        )),
    }
}

async fn insert_space(
    tx: &mut Tx,
    venue: &str,
    space: &NewSpace,
    order: i64,
    now: i64,
) -> ApiResult<()> {
    let (name, capacity, layouts) = check_space(space)?;
    let inserted = sqlx::query(
        "INSERT INTO venue_spaces (id, venue_id, name, capacity, layouts_json, sort_order, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(new_id())
    .bind(venue)
    .bind(&name)
    .bind(capacity)
    .bind(serde_json::to_string(&layouts).unwrap_or_default())
    .bind(order)
    .bind(now)
    .execute(&mut **tx)
    .await;
    match inserted {
        Err(err) if is_unique_violation(&err) => Err(ApiError::conflict(
            "space_exists",
            format!("the venue has a space named {name:?}"),
        )),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

// ---- Tenant routes (module `venue`) ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewVenue {
    pub name: String,
    pub address: String,
    pub city: String,
    pub country: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub timezone: String,
    pub capacity: i64,
    #[serde(default)]
    pub images: Vec<String>,
    #[serde(default)]
    pub spaces: Vec<NewSpace>,
}

/// Adds a venue of the company, with its spaces.
#[utoipa::path(post, path = "/venue/venues", tag = "directory", request_body = NewVenue,
    params(("x-org" = String, Header)),
    responses((status = 201, body = Venue), (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, description = "`space_exists`", body = Problem)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    ApiJson(body): ApiJson<NewVenue>,
) -> ApiResult<(StatusCode, ApiJson<Venue>)> {
    member.require("venue.venues.manage")?;
    let name = validate::text("name", &body.name, 200)?;
    let address = validate::text("address", &body.address, 500)?;
    let city = validate::text("city", &body.city, 120)?;
    let country = country("country", &body.country)?;
    let timezone = validate::timezone("timezone", &body.timezone)?;
    let capacity = validate::range("capacity", body.capacity, 1, MAX_CAPACITY)?;
    let latitude = coordinate("latitude", body.latitude, 90.0)?;
    let longitude = coordinate("longitude", body.longitude, 180.0)?;
    if latitude.is_some() != longitude.is_some() {
        return Err(ApiError::invalid(
            "longitude",
            "give both latitude and longitude, or neither",
        ));
    }
    let images = urls("images", &body.images, 20)?;
    if body.spaces.len() > 50 {
        return Err(ApiError::invalid("spaces", "at most 50 spaces"));
    }
    let now = state.clock.now_ms();
    let id = new_id();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO venues (id, company_id, name, address, city, country, latitude_e6, longitude_e6, \
         timezone, capacity, images_json, archived, search_text, city_key, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $13, $14, $14)",
    )
    .bind(&id)
    .bind(member.company_id.as_str())
    .bind(&name)
    .bind(&address)
    .bind(&city)
    .bind(&country)
    .bind(latitude)
    .bind(longitude)
    .bind(&timezone)
    .bind(capacity)
    .bind(serde_json::to_string(&images).unwrap_or_default())
    .bind(search_key(&[&name, &city]))
    .bind(search_key(&[&city]))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    for (i, space) in body.spaces.iter().enumerate() {
        insert_space(&mut tx, &id, space, i as i64, now)
            .await
            .map_err(|e| e.at_item("spaces", i))?;
    }
    let venue = load(&mut tx, &id, None).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(venue)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VenueChange {
    pub name: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub timezone: Option<String>,
    pub capacity: Option<i64>,
    pub images: Option<Vec<String>>,
    /// Archive (true) or bring back (false).
    pub archived: Option<bool>,
}

/// Changes one of the company's venues (Nextkt's snapshots follow on their next refresh).
#[utoipa::path(patch, path = "/venue/venues/{id}", tag = "directory", request_body = VenueChange,
    params(("id" = String, Path), ("x-org" = String, Header)),
    responses((status = 200, body = Venue), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<VenueChange>,
) -> ApiResult<ApiJson<Venue>> {
    member.require("venue.venues.manage")?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let row: VenueRow = sqlx::query_as(state.db.sql(format!(
        "SELECT {COLUMNS} FROM venues WHERE id = $1 AND company_id = $2{}",
        state.db.for_update()
    )))
    .bind(&id)
    .bind(member.company_id.as_str())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found("venue"))?;
    let name = match &body.name {
        Some(v) => validate::text("name", v, 200)?,
        None => row.name.clone(),
    };
    let address = match &body.address {
        Some(v) => validate::text("address", v, 500)?,
        None => row.address.clone(),
    };
    let city = match &body.city {
        Some(v) => validate::text("city", v, 120)?,
        None => row.city.clone(),
    };
    let country = match &body.country {
        Some(v) => country("country", v)?,
        None => row.country.clone(),
    };
    let timezone = match &body.timezone {
        Some(v) => validate::timezone("timezone", v)?,
        None => row.timezone.clone(),
    };
    let capacity = match body.capacity {
        Some(v) => validate::range("capacity", v, 1, MAX_CAPACITY)?,
        None => row.capacity,
    };
    let (latitude, longitude) = match (body.latitude, body.longitude) {
        (None, None) => (row.latitude_e6, row.longitude_e6),
        (Some(_), Some(_)) => (
            coordinate("latitude", body.latitude, 90.0)?,
            coordinate("longitude", body.longitude, 180.0)?,
        ),
        _ => {
            return Err(ApiError::invalid(
                "longitude",
                "change latitude and longitude together",
            ));
        }
    };
    let images = match &body.images {
        Some(v) => serde_json::to_string(&urls("images", v, 20)?).unwrap_or_default(),
        None => row.images_json.clone(),
    };
    let archived = body.archived.map(i64::from).unwrap_or(row.archived);
    sqlx::query(
        "UPDATE venues SET name = $2, address = $3, city = $4, country = $5, latitude_e6 = $6, \
         longitude_e6 = $7, timezone = $8, capacity = $9, images_json = $10, archived = $11, \
         search_text = $12, city_key = $13, updated_at = $14 WHERE id = $1",
    )
    .bind(&id)
    .bind(&name)
    .bind(&address)
    .bind(&city)
    .bind(&country)
    .bind(latitude)
    .bind(longitude)
    .bind(&timezone)
    .bind(capacity)
    .bind(&images)
    .bind(archived)
    .bind(search_key(&[&name, &city]))
    .bind(search_key(&[&city]))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let venue = load(&mut tx, &id, None).await?;
    tx.commit().await?;
    Ok(ApiJson(venue))
}

/// Adds a space to one of the company's venues.
#[utoipa::path(post, path = "/venue/venues/{id}/spaces", tag = "directory", request_body = NewSpace,
    params(("id" = String, Path), ("x-org" = String, Header)),
    responses((status = 201, body = Venue), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn add_space(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewSpace>,
) -> ApiResult<(StatusCode, ApiJson<Venue>)> {
    member.require("venue.venues.manage")?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let venue = load(&mut tx, &id, Some(&member.company_id)).await?;
    insert_space(&mut tx, &id, &body, venue.spaces.len() as i64, now).await?;
    touch(&mut tx, &id, now).await?;
    let venue = load(&mut tx, &id, None).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(venue)))
}

async fn touch(tx: &mut Tx, venue: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE venues SET updated_at = $2 WHERE id = $1")
        .bind(venue)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Changes a space of one of the company's venues.
#[utoipa::path(put, path = "/venue/venues/{id}/spaces/{spaceId}", tag = "directory", request_body = NewSpace,
    params(("id" = String, Path), ("spaceId" = String, Path), ("x-org" = String, Header)),
    responses((status = 200, body = Venue), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn update_space(
    State(state): State<AppState>,
    member: Member,
    Path((id, space)): Path<(String, String)>,
    ApiJson(body): ApiJson<NewSpace>,
) -> ApiResult<ApiJson<Venue>> {
    member.require("venue.venues.manage")?;
    let (name, capacity, layouts) = check_space(&body)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let venue = load(&mut tx, &id, Some(&member.company_id)).await?;
    if !venue.spaces.iter().any(|s| s.id == space) {
        return Err(ApiError::not_found("space"));
    }
    let updated = sqlx::query(
        "UPDATE venue_spaces SET name = $3, capacity = $4, layouts_json = $5, updated_at = $6 \
         WHERE id = $1 AND venue_id = $2",
    )
    .bind(&space)
    .bind(&id)
    .bind(&name)
    .bind(capacity)
    .bind(serde_json::to_string(&layouts).unwrap_or_default())
    .bind(now)
    .execute(&mut *tx)
    .await;
    match updated {
        Err(err) if is_unique_violation(&err) => {
            return Err(ApiError::conflict(
                "space_exists",
                format!("the venue has a space named {name:?}"),
            ));
        }
        other => other?,
    };
    touch(&mut tx, &id, now).await?;
    let venue = load(&mut tx, &id, None).await?;
    tx.commit().await?;
    Ok(ApiJson(venue))
}

/// The company's venues, archived ones included.
#[utoipa::path(get, path = "/venue/venues", tag = "directory", params(PageParams, ("x-org" = String, Header)),
    responses((status = 200, body = List<Venue>)), security(("bearer" = [])))]
pub async fn list_own(
    State(state): State<AppState>,
    member: Member,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<List<Venue>>> {
    member.require("venue.venues.read")?;
    let page = page.parse()?;
    let mut conn = state.db.pool.acquire().await?;
    let rows: Vec<VenueRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM venues WHERE company_id = $1 AND ($2 = '' OR id > $2) ORDER BY id LIMIT $3"
    )))
    .bind(member.company_id.as_str())
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&mut *conn)
    .await?;
    let page = page.finish(rows, |r| r.id.as_str());
    let next_cursor = page.next_cursor;
    let items = with_spaces(&mut conn, page.items).await?;
    Ok(ApiJson(List { items, next_cursor }))
}

/// One of the company's venues.
#[utoipa::path(get, path = "/venue/venues/{id}", tag = "directory", params(("id" = String, Path), ("x-org" = String, Header)),
    responses((status = 200, body = Venue), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn get_own(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<Venue>> {
    member.require("venue.venues.read")?;
    let mut conn = state.db.pool.acquire().await?;
    Ok(ApiJson(
        load(&mut conn, &id, Some(&member.company_id)).await?,
    ))
}

// ---- Internal routes (Nextkt) ----

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VenueSearch {
    /// Words of the name or city.
    pub q: Option<String>,
    /// Exactly this city (case does not matter).
    pub city: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Venues of every venue company, archived ones left out.
#[utoipa::path(get, path = "/internal/venues", tag = "directory", params(VenueSearch),
    responses((status = 200, body = List<Venue>), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("internal_key" = [])))]
pub async fn internal_list(
    State(state): State<AppState>,
    _caller: InternalCaller,
    ApiQuery(search): ApiQuery<VenueSearch>,
) -> ApiResult<ApiJson<List<Venue>>> {
    let page = PageParams {
        limit: search.limit,
        cursor: search.cursor.clone(),
    }
    .parse()?;
    let mut conn = state.db.pool.acquire().await?;
    let rows: Vec<VenueRow> = sqlx::query_as(state.db.sql(format!(
        "SELECT {COLUMNS} FROM venues WHERE archived = 0 AND ($1 = '' OR id > $1) \
         AND ($2 = '' OR search_text LIKE $2 ESCAPE '\\') AND ($3 = '' OR city_key = $3) \
         ORDER BY id LIMIT $4"
    )))
    .bind(page.bound())
    .bind(like_pattern(search.q.as_deref()))
    .bind(search_key(&[search.city.as_deref().unwrap_or_default()]))
    .bind(page.fetch_limit())
    .fetch_all(&mut *conn)
    .await?;
    let page = page.finish(rows, |r| r.id.as_str());
    let next_cursor = page.next_cursor;
    let items = with_spaces(&mut conn, page.items).await?;
    Ok(ApiJson(List { items, next_cursor }))
}

/// One venue by id, archived or not (`archived` says which).
#[utoipa::path(get, path = "/internal/venues/{id}", tag = "directory", params(("id" = String, Path)),
    responses((status = 200, body = Venue), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("internal_key" = [])))]
pub async fn internal_get(
    State(state): State<AppState>,
    _caller: InternalCaller,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<Venue>> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(ApiJson(load(&mut conn, &id, None).await?))
}
