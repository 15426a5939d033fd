//! What the seating API reads and writes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSection {
    pub name: String,
    /// The seated ticket type (price tier) of the section's seats.
    pub ticket_type_id: String,
    /// Layout lines, e.g. `["A-Z:1-40", "AA:1-10"]`.
    pub layout: Vec<String>,
    pub sort_order: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Seat {
    pub id: String,
    pub section_id: String,
    pub row: String,
    pub number: String,
    pub ticket_type_id: String,
    /// Blocked seats are not for sale.
    pub blocked: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Section {
    pub id: String,
    pub event_id: String,
    pub name: String,
    pub sort_order: i64,
    pub seats: Vec<Seat>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSeats {
    pub seat_ids: Vec<String>,
    /// Move the seats to another seated ticket type (price tier) of the event.
    pub ticket_type_id: Option<String>,
    /// Take the seats off sale, or put them back.
    pub blocked: Option<bool>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// `coords`: x, y, width, height.
    Rect,
    /// `coords`: center x, center y, radius.
    Circle,
    /// `coords`: x1, y1, x2, y2, ... (at least three points).
    Polygon,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HotspotTarget {
    Section,
    Seat,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateHotspot {
    pub shape: Shape,
    /// Coordinates in image pixels (see `shape`).
    pub coords: Vec<f64>,
    pub target_kind: HotspotTarget,
    pub target_id: String,
    pub label: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Hotspot {
    pub id: String,
    pub shape: Shape,
    pub coords: Vec<f64>,
    pub target_kind: HotspotTarget,
    pub target_id: String,
    pub label: Option<String>,
}
