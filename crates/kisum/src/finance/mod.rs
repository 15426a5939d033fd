//! The finance addon (`/finance/*`): vendors, bills (accounts payable) with their approval
//! state machine, income (idempotent on its source reference, so a repeated settlement
//! push is a replay), exchange rates per date, profit and loss in the company's currency,
//! and an audit log of every change. Every route sits behind the `finance` module gate;
//! each handler names the permission it needs.

pub mod audit;
pub mod bills;
pub mod fx;
pub mod income;
pub mod reports;
pub mod vendors;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::platform::error::{ApiError, ApiResult};
use crate::state::AppState;

pub const MODULE: &str = "finance";

/// The addon's routes; the app puts the module gate around them.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(vendors::list, vendors::create))
        .routes(routes!(vendors::get, vendors::update))
        .routes(routes!(bills::list, bills::create))
        .routes(routes!(bills::get, bills::update))
        .routes(routes!(bills::submit))
        .routes(routes!(bills::approve))
        .routes(routes!(bills::reject))
        .routes(routes!(bills::pay))
        .routes(routes!(bills::void))
        .routes(routes!(income::list, income::create))
        .routes(routes!(income::get, income::update))
        .routes(routes!(fx::list, fx::set))
        .routes(routes!(fx::convert_route))
        .routes(routes!(reports::pnl))
        .routes(routes!(audit::list))
}

/// A calendar date, `YYYY-MM-DD`.
pub fn date(field: &str, value: &str) -> ApiResult<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(value.trim(), &format)
        .map(|d| d.format(&format).unwrap_or_default())
        .map_err(|_| ApiError::invalid(field, format!("{field} must be a date, YYYY-MM-DD")))
}

/// Today's date (UTC) at `now`.
pub fn today(now: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::OffsetDateTime::from_unix_timestamp(now / 1000)
        .map(|t| t.date().format(&format).unwrap_or_default())
        .unwrap_or_default()
}

/// An amount in minor units: a whole number, positive unless zero is allowed.
pub fn amount(field: &str, value: i64, allow_zero: bool) -> ApiResult<i64> {
    if value < 0 || (value == 0 && !allow_zero) {
        return Err(ApiError::invalid(
            field,
            format!("{field} must be a whole number of minor units above zero"),
        ));
    }
    if value > 1_000_000_000_000_000 {
        return Err(ApiError::invalid(field, format!("{field} is too large")));
    }
    Ok(value)
}

/// An optional free-text reference (an event id in Nextkt or elsewhere).
pub fn reference(field: &str, value: Option<&str>) -> ApiResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.len() <= 200 && !v.chars().any(char::is_control) => Ok(Some(v.to_string())),
        Some(_) => Err(ApiError::invalid(
            field,
            format!("{field} must be at most 200 printable characters"),
        )),
    }
}
