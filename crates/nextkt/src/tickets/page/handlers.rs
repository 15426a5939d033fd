//! The ticket page's route: read the ticket, answer HTML or JSON.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};

use super::{PublicTicket, html::html, store};
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::local_time;
use crate::state::AppState;

async fn load(state: &AppState, code: &str) -> ApiResult<PublicTicket> {
    let ticket = store::by_code(&state.db, code).await?;
    let ticket = ticket.ok_or_else(|| ApiError::not_found("ticket"))?;
    let extra = store::extra(&state.db, &ticket).await?;
    let seat = match &ticket.seat_id {
        Some(seat) => store::seat(&state.db, seat).await?,
        None => None,
    };
    let title: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&extra.title_json).unwrap_or_default();
    let venue = extra
        .venue_json
        .as_deref()
        .and_then(|v| serde_json::from_str::<crate::catalog::events::VenueRef>(v).ok());
    let venue_city = venue.as_ref().and_then(|v| v.city.clone()).or(extra.city);
    Ok(PublicTicket {
        code: ticket.code,
        status: ticket.status.as_str().to_string(),
        holder_name: ticket.holder_name,
        event_title: crate::catalog::events::title_in(&title, "en"),
        event_starts_at: rfc3339(extra.starts_at),
        event_starts_local: local_time::format(extra.starts_at, &extra.timezone, "en"),
        event_timezone: extra.timezone,
        venue: venue.map(|v| v.name),
        venue_city,
        ticket_type: extra.ticket_type_name,
        seat: seat
            .as_ref()
            .map(|(row, number, _)| format!("{row}-{number}")),
        section: seat.map(|(_, _, section)| section),
        qr_payload: ticket.qr_payload,
        livemode: ticket.livemode != 0,
    })
}

/// The ticket's public page (HTML), or its JSON with `Accept: application/json`.
#[utoipa::path(
    get, path = "/t/{code}", tag = "tickets",
    params(("code" = String, Path)),
    responses(
        (status = 200, description = "The ticket page (text/html) or its data (application/json)", body = PublicTicket),
        (status = 404, body = Problem),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> ApiResult<Response> {
    if code.len() > 100 {
        return Err(ApiError::not_found("ticket"));
    }
    let ticket = load(&state, &code).await?;
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let mut response = if wants_json {
        axum::Json(ticket).into_response()
    } else {
        Html(html(&ticket)).into_response()
    };
    // The page carries a credential: keep it out of shared caches.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}
