//! Artist profiles.

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
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::ids::new_id;
use crate::platform::internal_key::InternalCaller;
use crate::platform::json::ApiJson;
use crate::platform::list::List;
use crate::platform::pagination::PageParams;
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ArtistRow {
    pub id: String,
    pub company_id: String,
    pub name: String,
    pub country: String,
    pub image_url: Option<String>,
    pub bio: String,
    pub links_json: String,
    pub archived: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Artist {
    pub id: String,
    /// The artist company that owns the profile.
    pub company_id: String,
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// Lower case, in the order given.
    pub genres: Vec<String>,
    pub image_url: Option<String>,
    /// A short bio (at most 1,000 characters).
    pub bio: String,
    pub links: Vec<String>,
    pub archived: bool,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str =
    "id, company_id, name, country, image_url, bio, links_json, archived, created_at, updated_at";

async fn genres_of(conn: &mut AnyConnection, artist: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT genre FROM artist_genres WHERE artist_id = $1 ORDER BY position")
        .bind(artist)
        .fetch_all(conn)
        .await
}

async fn view(conn: &mut AnyConnection, row: ArtistRow) -> Result<Artist, sqlx::Error> {
    let genres = genres_of(conn, &row.id).await?;
    Ok(Artist {
        genres,
        links: serde_json::from_str(&row.links_json).unwrap_or_default(),
        id: row.id,
        company_id: row.company_id,
        name: row.name,
        country: row.country,
        image_url: row.image_url,
        bio: row.bio,
        archived: row.archived != 0,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
    })
}

async fn load(conn: &mut AnyConnection, id: &str, owner: Option<&CompanyId>) -> ApiResult<Artist> {
    let row: ArtistRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM artist_profiles WHERE id = $1 AND ($2 = '' OR company_id = $2)"
    )))
    .bind(id)
    .bind(owner.map(|c| c.as_str()).unwrap_or_default())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found("artist"))?;
    Ok(view(conn, row).await?)
}

fn check_genres(values: &[String]) -> ApiResult<Vec<String>> {
    if values.len() > 10 {
        return Err(ApiError::invalid("genres", "at most 10 genres"));
    }
    let mut genres: Vec<String> = Vec::new();
    for g in values {
        let g = search_key(&[&validate::text("genres", g, 40)?]);
        if !genres.contains(&g) {
            genres.push(g);
        }
    }
    Ok(genres)
}

async fn set_genres(tx: &mut Tx, artist: &str, genres: &[String]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM artist_genres WHERE artist_id = $1")
        .bind(artist)
        .execute(&mut **tx)
        .await?;
    for (i, genre) in genres.iter().enumerate() {
        sqlx::query("INSERT INTO artist_genres (artist_id, genre, position) VALUES ($1, $2, $3)")
            .bind(artist)
            .bind(genre)
            .bind(i as i64)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

fn image(value: Option<&str>) -> ApiResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(url) => Ok(Some(validate::http_url("imageUrl", url)?)),
    }
}

/// A short bio: line breaks allowed, at most 1,000 characters.
fn bio_text(value: Option<&str>) -> ApiResult<String> {
    match value.map(str::trim) {
        None | Some("") => Ok(String::new()),
        Some(bio) => validate::multiline_text("bio", bio, 1000),
    }
}

// ---- Tenant routes (module `artist`) ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewArtist {
    pub name: String,
    pub country: String,
    #[serde(default)]
    pub genres: Vec<String>,
    pub image_url: Option<String>,
    pub bio: Option<String>,
    #[serde(default)]
    pub links: Vec<String>,
}

/// Adds an artist profile of the company.
#[utoipa::path(post, path = "/artist/profiles", tag = "directory", request_body = NewArtist,
    params(("x-org" = String, Header)),
    responses((status = 201, body = Artist), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    ApiJson(body): ApiJson<NewArtist>,
) -> ApiResult<(StatusCode, ApiJson<Artist>)> {
    member.require("artist.profiles.manage")?;
    let name = validate::text("name", &body.name, 200)?;
    let country = country("country", &body.country)?;
    let genres = check_genres(&body.genres)?;
    let image_url = image(body.image_url.as_deref())?;
    let bio = bio_text(body.bio.as_deref())?;
    let links = urls("links", &body.links, 10)?;
    let now = state.clock.now_ms();
    let id = new_id();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO artist_profiles (id, company_id, name, country, image_url, bio, links_json, \
         archived, search_text, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $9)",
    )
    .bind(&id)
    .bind(member.company_id.as_str())
    .bind(&name)
    .bind(&country)
    .bind(&image_url)
    .bind(&bio)
    .bind(serde_json::to_string(&links).unwrap_or_default())
    .bind(search_key(&[&name]))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    set_genres(&mut tx, &id, &genres).await?;
    let artist = load(&mut tx, &id, None).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(artist)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArtistChange {
    pub name: Option<String>,
    pub country: Option<String>,
    pub genres: Option<Vec<String>>,
    /// An empty string removes the image.
    pub image_url: Option<String>,
    pub bio: Option<String>,
    pub links: Option<Vec<String>>,
    pub archived: Option<bool>,
}

/// Changes one of the company's artist profiles.
#[utoipa::path(patch, path = "/artist/profiles/{id}", tag = "directory", request_body = ArtistChange,
    params(("id" = String, Path), ("x-org" = String, Header)),
    responses((status = 200, body = Artist), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ArtistChange>,
) -> ApiResult<ApiJson<Artist>> {
    member.require("artist.profiles.manage")?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let row: ArtistRow = sqlx::query_as(state.db.sql(format!(
        "SELECT {COLUMNS} FROM artist_profiles WHERE id = $1 AND company_id = $2{}",
        state.db.for_update()
    )))
    .bind(&id)
    .bind(member.company_id.as_str())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found("artist"))?;
    let name = match &body.name {
        Some(v) => validate::text("name", v, 200)?,
        None => row.name.clone(),
    };
    let country = match &body.country {
        Some(v) => country("country", v)?,
        None => row.country.clone(),
    };
    let image_url = match &body.image_url {
        Some(v) => image(Some(v))?,
        None => row.image_url.clone(),
    };
    let bio = match &body.bio {
        Some(v) => bio_text(Some(v))?,
        None => row.bio.clone(),
    };
    let links = match &body.links {
        Some(v) => serde_json::to_string(&urls("links", v, 10)?).unwrap_or_default(),
        None => row.links_json.clone(),
    };
    if let Some(genres) = &body.genres {
        let genres = check_genres(genres)?;
        set_genres(&mut tx, &id, &genres).await?;
    }
    let archived = body.archived.map(i64::from).unwrap_or(row.archived);
    sqlx::query(
        "UPDATE artist_profiles SET name = $2, country = $3, image_url = $4, bio = $5, links_json = $6, \
         archived = $7, search_text = $8, updated_at = $9 WHERE id = $1",
    )
    .bind(&id)
    .bind(&name)
    .bind(&country)
    .bind(&image_url)
    .bind(&bio)
    .bind(&links)
    .bind(archived)
    .bind(search_key(&[&name]))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let artist = load(&mut tx, &id, None).await?;
    tx.commit().await?;
    Ok(ApiJson(artist))
}

async fn page_of(conn: &mut AnyConnection, rows: Vec<ArtistRow>) -> ApiResult<Vec<Artist>> {
    let mut artists = Vec::with_capacity(rows.len());
    for row in rows {
        artists.push(view(conn, row).await?);
    }
    Ok(artists)
}

/// The company's artist profiles, archived ones included.
#[utoipa::path(get, path = "/artist/profiles", tag = "directory", params(PageParams, ("x-org" = String, Header)),
    responses((status = 200, body = List<Artist>)), security(("bearer" = [])))]
pub async fn list_own(
    State(state): State<AppState>,
    member: Member,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<List<Artist>>> {
    member.require("artist.profiles.read")?;
    let page = page.parse()?;
    let mut conn = state.db.pool.acquire().await?;
    let rows: Vec<ArtistRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM artist_profiles WHERE company_id = $1 AND ($2 = '' OR id > $2) \
         ORDER BY id LIMIT $3"
    )))
    .bind(member.company_id.as_str())
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&mut *conn)
    .await?;
    let page = page.finish(rows, |r| r.id.as_str());
    let next_cursor = page.next_cursor;
    let items = page_of(&mut conn, page.items).await?;
    Ok(ApiJson(List { items, next_cursor }))
}

/// One of the company's artist profiles.
#[utoipa::path(get, path = "/artist/profiles/{id}", tag = "directory", params(("id" = String, Path), ("x-org" = String, Header)),
    responses((status = 200, body = Artist), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn get_own(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<Artist>> {
    member.require("artist.profiles.read")?;
    let mut conn = state.db.pool.acquire().await?;
    Ok(ApiJson(
        load(&mut conn, &id, Some(&member.company_id)).await?,
    ))
}

// ---- Internal routes (Nextkt) ----

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArtistSearch {
    /// Words of the name.
    pub q: Option<String>,
    /// One genre (case does not matter).
    pub genre: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Artist profiles of every artist company, archived ones left out.
#[utoipa::path(get, path = "/internal/artists", tag = "directory", params(ArtistSearch),
    responses((status = 200, body = List<Artist>), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("internal_key" = [])))]
pub async fn internal_list(
    State(state): State<AppState>,
    _caller: InternalCaller,
    ApiQuery(search): ApiQuery<ArtistSearch>,
) -> ApiResult<ApiJson<List<Artist>>> {
    let page = PageParams {
        limit: search.limit,
        cursor: search.cursor.clone(),
    }
    .parse()?;
    let mut conn = state.db.pool.acquire().await?;
    let rows: Vec<ArtistRow> = sqlx::query_as(state.db.sql(format!(
        "SELECT {COLUMNS} FROM artist_profiles p WHERE archived = 0 AND ($1 = '' OR id > $1) \
         AND ($2 = '' OR search_text LIKE $2 ESCAPE '\\') \
         AND ($3 = '' OR EXISTS (SELECT 1 FROM artist_genres g WHERE g.artist_id = p.id AND g.genre = $3)) \
         ORDER BY id LIMIT $4"
    )))
    .bind(page.bound())
    .bind(like_pattern(search.q.as_deref()))
    .bind(search_key(&[search.genre.as_deref().unwrap_or_default()]))
    .bind(page.fetch_limit())
    .fetch_all(&mut *conn)
    .await?;
    let page = page.finish(rows, |r| r.id.as_str());
    let next_cursor = page.next_cursor;
    let items = page_of(&mut conn, page.items).await?;
    Ok(ApiJson(List { items, next_cursor }))
}

/// One artist profile by id, archived or not (`archived` says which).
#[utoipa::path(get, path = "/internal/artists/{id}", tag = "directory", params(("id" = String, Path)),
    responses((status = 200, body = Artist), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("internal_key" = [])))]
pub async fn internal_get(
    State(state): State<AppState>,
    _caller: InternalCaller,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<Artist>> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(ApiJson(load(&mut conn, &id, None).await?))
}
