//! `GET /t/{code}`: the public ticket page. HTML that works on a phone, with the QR code as
//! an inline SVG and nothing fetched from elsewhere; JSON with `Accept: application/json`.
//! It shows nothing more personal than the holder's name.
//!
//! `handlers` answers the route, `store` reads the ticket with its event, `html` renders it.

mod handlers;
mod html;
mod store;

use serde::Serialize;
use utoipa::ToSchema;

pub use handlers::*;

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
