//! Seated inventory: sections, rows and seats (created in bulk from a compact layout such as
//! `A-Z:1-40`), each seat tied to a ticket type (its price tier); and hotspots, shapes on
//! the venue-map image linked to sections or seats.
//!
//! `handlers` parses and authorizes, `service` holds the rules and the transactions, `store`
//! the SQL; `types` the shapes the API reads and writes, `layout` the layout lines.

mod handlers;
mod layout;
mod service;
mod store;
mod types;

// A glob, so the `__path_*` items `#[utoipa::path]` generates beside each handler come
// along: the router's `routes!(seating::create_section)` needs them here.
pub use handlers::*;
pub use layout::expand_layout;
pub use store::{hotspots_of, sections_of};
pub use types::{
    CreateHotspot, CreateSection, Hotspot, HotspotTarget, Seat, Section, Shape, UpdateSeats,
};

pub const MAX_SEATS_PER_SECTION: usize = 20_000;
