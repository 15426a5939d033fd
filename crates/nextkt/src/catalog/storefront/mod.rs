//! The consumer catalog: what a storefront shows. Drafts are never shown; private events
//! need their access key; hidden ticket types need their unlock code. Availability is
//! computed live from holds and seats on every call.
//!
//! `handlers` parses and maps the answers, `service` decides what a caller may see and
//! works out inventory and availability, `store` the SQL; `types` the shapes the API reads
//! and answers.

mod handlers;
mod service;
mod store;
mod types;

// A glob, so the `__path_*` items `#[utoipa::path]` generates beside each handler come
// along: the router's `routes!(storefront::list)` needs them here.
pub use handlers::*;
pub use service::visible_event;
pub use types::{
    Availability, EventAccess, EventFilter, Inventory, PublicTicketType, Remaining,
    SeatAvailability,
};
