//! The directory: venues (with their spaces) owned by venue companies, and artist profiles
//! owned by artist companies. Owners manage them through tenant routes behind their base
//! module's gate (`/venue/*`, `/artist/*`); Nextkt reads them through the internal routes,
//! the only Kisum data it reads.

pub mod artists;
pub mod venues;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::platform::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Venue companies' routes (module `venue`); the app puts the gate around them.
pub fn venue_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(venues::list_own, venues::create))
        .routes(routes!(venues::get_own, venues::update))
        .routes(routes!(venues::add_space))
        .routes(routes!(venues::update_space))
}

/// Artist companies' routes (module `artist`).
pub fn artist_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(artists::list_own, artists::create))
        .routes(routes!(artists::get_own, artists::update))
}

/// The machine routes Nextkt reads (internal key).
pub fn internal_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(venues::internal_list))
        .routes(routes!(venues::internal_get))
        .routes(routes!(artists::internal_list))
        .routes(routes!(artists::internal_get))
}

/// An ISO 3166-1 alpha-2 country code, upper-cased.
pub fn country(field: &str, value: &str) -> ApiResult<String> {
    let code = value.trim().to_ascii_uppercase();
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err(ApiError::invalid(
            field,
            format!("{field} must be a two-letter country code (ISO 3166-1)"),
        ))
    }
}

/// A list of http(s) URLs, at most `max`.
pub fn urls(field: &str, values: &[String], max: usize) -> ApiResult<Vec<String>> {
    if values.len() > max {
        return Err(ApiError::invalid(field, format!("at most {max} {field}")));
    }
    values
        .iter()
        .map(|v| crate::platform::validate::http_url(field, v))
        .collect()
}

/// Text folded for search: lower case, single spaces.
pub fn search_key(parts: &[&str]) -> String {
    parts
        .iter()
        .flat_map(|p| p.split_whitespace())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A `q` filter as a LIKE pattern on the search key ("" when absent), with LIKE's special
/// characters taken literally.
pub fn like_pattern(q: Option<&str>) -> String {
    match q.map(str::trim).filter(|q| !q.is_empty()) {
        None => String::new(),
        Some(q) => {
            let folded = search_key(&[q]);
            let escaped: String = folded
                .chars()
                .flat_map(|c| match c {
                    '%' | '_' | '\\' => vec!['\\', c],
                    c => vec![c],
                })
                .collect();
            format!("%{escaped}%")
        }
    }
}
