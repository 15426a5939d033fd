//! What the storefront API reads and answers.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::catalog::events::Mode;
use crate::catalog::seating::{Hotspot, Section};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// Events starting at or after this time (RFC 3339).
    pub from: Option<String>,
    /// Events starting before this time (RFC 3339).
    pub to: Option<String>,
    /// City of the venue (any letter case).
    pub city: Option<String>,
    /// Words to find in the title, venue or city.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventAccess {
    /// Required for private events: the key from the event's link.
    pub access_key: Option<String>,
    /// Shows hidden ticket types this code unlocks.
    pub unlock: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicTicketType {
    pub id: String,
    pub name: String,
    /// `ga` or `seated`.
    pub kind: String,
    pub price: i64,
    pub currency: String,
    pub sale_starts_at: Option<String>,
    pub sale_ends_at: Option<String>,
    pub min_per_order: i64,
    pub max_per_order: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Inventory {
    pub event_id: String,
    /// `ga`, `seated` or `mixed`.
    pub mode: Mode,
    pub map_image_ref: Option<String>,
    pub ticket_types: Vec<PublicTicketType>,
    pub sections: Vec<Section>,
    pub hotspots: Vec<Hotspot>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Remaining {
    pub id: String,
    pub remaining: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeatAvailability {
    pub id: String,
    pub available: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Availability {
    pub event_id: String,
    pub ticket_types: Vec<Remaining>,
    pub sections: Vec<Remaining>,
    pub seats: Vec<SeatAvailability>,
}
