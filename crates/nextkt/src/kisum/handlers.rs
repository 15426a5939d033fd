//! Operators look up Kisum's venues and artists through Nextkt (to reference them on
//! events). Answers are Kisum's, never invented: not configured is 503
//! `kisum_not_configured`, Kisum down or slow is 503 `kisum_unavailable`.

use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::IntoParams;

use super::client::{Artist, KisumClient, KisumError, Listed, Venue};
use crate::platform::error::{ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::query::ApiQuery;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::roles::Permission;

fn client(state: &AppState) -> Result<&KisumClient, KisumError> {
    state.kisum.as_deref().ok_or(KisumError::NotConfigured)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VenueLookup {
    /// Words of the venue's name or city.
    pub q: Option<String>,
    pub city: Option<String>,
    pub cursor: Option<String>,
}

/// Searches Kisum's venue directory.
#[utoipa::path(get, path = "/admin/venues", tag = "kisum", params(VenueLookup),
    responses((status = 200, body = Listed<Venue>), (status = 403, body = Problem),
        (status = 503, description = "`kisum_not_configured`, `kisum_unavailable`", body = Problem)),
    security(("bearer" = [])))]
pub async fn venues(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiQuery(lookup): ApiQuery<VenueLookup>,
) -> ApiResult<ApiJson<Listed<Venue>>> {
    access.require(Permission::ManageCatalog)?;
    let found = client(&state)?
        .venues(
            lookup.q.as_deref().unwrap_or_default(),
            lookup.city.as_deref().unwrap_or_default(),
            lookup.cursor.as_deref().unwrap_or_default(),
        )
        .await?;
    Ok(ApiJson(found))
}

/// One Kisum venue (archived ones too, marked so).
#[utoipa::path(get, path = "/admin/venues/{id}", tag = "kisum", params(("id" = String, Path)),
    responses((status = 200, body = Venue), (status = 404, body = Problem),
        (status = 503, description = "`kisum_not_configured`, `kisum_unavailable`", body = Problem)),
    security(("bearer" = [])))]
pub async fn venue(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<Venue>> {
    access.require(Permission::ManageCatalog)?;
    Ok(ApiJson(client(&state)?.venue(&id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArtistLookup {
    /// Words of the artist's name.
    pub q: Option<String>,
    pub genre: Option<String>,
    pub cursor: Option<String>,
}

/// Searches Kisum's artist directory.
#[utoipa::path(get, path = "/admin/artists", tag = "kisum", params(ArtistLookup),
    responses((status = 200, body = Listed<Artist>), (status = 403, body = Problem),
        (status = 503, description = "`kisum_not_configured`, `kisum_unavailable`", body = Problem)),
    security(("bearer" = [])))]
pub async fn artists(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiQuery(lookup): ApiQuery<ArtistLookup>,
) -> ApiResult<ApiJson<Listed<Artist>>> {
    access.require(Permission::ManageCatalog)?;
    let found = client(&state)?
        .artists(
            lookup.q.as_deref().unwrap_or_default(),
            lookup.genre.as_deref().unwrap_or_default(),
            lookup.cursor.as_deref().unwrap_or_default(),
        )
        .await?;
    Ok(ApiJson(found))
}

/// One Kisum artist profile (archived ones too, marked so).
#[utoipa::path(get, path = "/admin/artists/{id}", tag = "kisum", params(("id" = String, Path)),
    responses((status = 200, body = Artist), (status = 404, body = Problem),
        (status = 503, description = "`kisum_not_configured`, `kisum_unavailable`", body = Problem)),
    security(("bearer" = [])))]
pub async fn artist(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<Artist>> {
    access.require(Permission::ManageCatalog)?;
    Ok(ApiJson(client(&state)?.artist(&id).await?))
}
