//! `GET /t/{code}`: the public ticket page. HTML that works on a phone, with the QR code as
//! an inline SVG and nothing fetched from elsewhere; JSON with `Accept: application/json`.
//! It shows nothing more personal than the holder's name.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::{TICKET_COLUMNS, TicketRow};
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::local_time;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicTicket {
    pub code: String,
    /// `valid` or `void`.
    pub status: String,
    pub holder_name: String,
    pub event_title: String,
    /// The start, RFC 3339 in UTC.
    pub event_starts_at: String,
    /// IANA time zone the event is local to.
    pub event_timezone: String,
    /// The start as people at the event read it, in English: `Fri, 1 Mar 2030, 19:00 WIB`
    /// (the zone's abbreviation, or its UTC offset where it has none).
    pub event_starts_local: String,
    /// The venue's name.
    pub venue: Option<String>,
    /// The venue's city (or the event's).
    pub venue_city: Option<String>,
    pub ticket_type: String,
    /// `Row-Number` for a seat.
    pub seat: Option<String>,
    pub section: Option<String>,
    pub qr_payload: String,
    /// False for a test ticket (its order took no real money).
    pub livemode: bool,
}

#[derive(sqlx::FromRow)]
struct Extra {
    title_json: String,
    starts_at: i64,
    timezone: String,
    venue_json: Option<String>,
    city: Option<String>,
    ticket_type_name: String,
}

async fn load(state: &AppState, code: &str) -> ApiResult<PublicTicket> {
    let ticket: Option<TicketRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TICKET_COLUMNS} FROM tickets WHERE code = $1"
    )))
    .bind(code.to_string())
    .fetch_optional(&state.db.pool)
    .await?;
    let ticket = ticket.ok_or_else(|| ApiError::not_found("ticket"))?;
    let extra: Extra = sqlx::query_as(
        "SELECT e.title_json, e.starts_at, e.timezone, e.venue_json, e.city, t.name AS ticket_type_name \
         FROM events e JOIN ticket_types t ON t.event_id = e.id WHERE e.id = $1 AND t.id = $2",
    )
    .bind(ticket.event_id.clone())
    .bind(ticket.ticket_type_id.clone())
    .fetch_one(&state.db.pool)
    .await?;
    let seat: Option<(String, String, String)> = match &ticket.seat_id {
        Some(seat) => sqlx::query_as(
            "SELECT s.row_label, s.seat_number, c.name FROM seats s JOIN sections c ON c.id = s.section_id \
             WHERE s.id = $1",
        )
        .bind(seat.clone())
        .fetch_optional(&state.db.pool)
        .await?,
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
        status: ticket.status,
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

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html(ticket: &PublicTicket) -> String {
    let valid = ticket.status == "valid";
    let seat = match (&ticket.section, &ticket.seat) {
        (Some(section), Some(seat)) => format!(
            "<p class=\"k\">Seat</p><p class=\"v\">{} · {}</p>",
            esc(section),
            esc(seat)
        ),
        _ => String::new(),
    };
    let place = match (&ticket.venue, &ticket.venue_city) {
        (Some(venue), Some(city)) => Some(format!("{venue}, {city}")),
        (Some(venue), None) => Some(venue.clone()),
        (None, city) => city.clone(),
    };
    let venue = place
        .map(|v| {
            format!(
                "<p class=\"k\">Venue</p><p class=\"v\" id=\"venue\">{}</p>",
                esc(&v)
            )
        })
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title} — ticket</title><style>\
         body{{font:16px/1.4 system-ui,sans-serif;margin:0;background:#f3f3f3;color:#111}}\
         main{{max-width:420px;margin:0 auto;padding:16px}}\
         .card{{background:#fff;border-radius:12px;padding:20px;box-shadow:0 1px 4px #0002}}\
         h1{{font-size:1.3em;margin:0 0 12px}} .k{{color:#666;font-size:.8em;margin:10px 0 0;text-transform:uppercase}}\
         .v{{margin:2px 0 0;font-weight:600}} .qr svg{{width:100%;height:auto;max-width:320px;display:block;margin:16px auto}}\
         .status{{display:inline-block;padding:4px 10px;border-radius:999px;font-weight:700;font-size:.85em}}\
         .valid{{background:#d9f7e3;color:#0a6b2c}} .void{{background:#fde2e2;color:#9b1c1c}}\
         .void-qr{{opacity:.15}} code{{font-size:.7em;word-break:break-all;color:#888}}\
         .test{{background:#fff3c4;color:#7a5b00;padding:8px 12px;border-radius:8px;font-weight:700;margin-bottom:12px}}\
         </style></head><body><main><div class=\"card\">{test}\
         <h1 id=\"event\">{title}</h1><span class=\"status {status_class}\" id=\"status\">{status}</span>\
         <p class=\"k\">Holder</p><p class=\"v\" id=\"holder\">{holder}</p>\
         <p class=\"k\">When</p><p class=\"v\"><time id=\"when\" datetime=\"{starts_at}\" title=\"{tz}\">{starts}</time></p>{venue}\
         <p class=\"k\">Ticket</p><p class=\"v\" id=\"tier\">{tier}</p>{seat}\
         <div class=\"qr{qr_class}\" id=\"qr\">{qr}</div><code>{code}</code>\
         </div></main></body></html>",
        title = esc(&ticket.event_title),
        status_class = if valid { "valid" } else { "void" },
        status = if valid {
            "Valid"
        } else {
            "Void — not admitted"
        },
        holder = esc(&ticket.holder_name),
        starts_at = esc(&ticket.event_starts_at),
        starts = esc(&ticket.event_starts_local),
        tz = esc(&ticket.event_timezone),
        tier = esc(&ticket.ticket_type),
        qr_class = if valid { "" } else { " void-qr" },
        qr = super::qr::svg(&ticket.qr_payload),
        code = esc(&ticket.code),
        test = if ticket.livemode {
            ""
        } else {
            "<p class=\"test\" id=\"test\">Test ticket: no money was paid for it</p>"
        },
    )
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
