//! Gate reports: the event's attendees (search by name, email or code; CSV export), live
//! check-in counts per list and gate, arrivals over time, and offline conflicts.
//!
//! `handlers` parses and authorizes, `service` puts the check-in report together, `store`
//! holds the SQL.

mod handlers;
mod service;
mod store;

use serde::Serialize;
use utoipa::ToSchema;

// A glob, so the `__path_*` items of the handlers come along for the router's `routes!`.
pub use handlers::*;

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Attendee {
    pub ticket_id: String,
    pub code: String,
    pub holder_name: String,
    pub holder_email: String,
    pub ticket_type_id: String,
    pub ticket_type: String,
    pub order_id: String,
    /// `sale` or `complimentary`.
    pub kind: String,
    /// `valid` or `void`.
    pub status: String,
    #[serde(skip)]
    pub arrived_ms: Option<i64>,
    #[sqlx(skip)]
    pub arrived_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListCount {
    pub list_id: String,
    pub name: String,
    /// Valid tickets of the ticket types the list admits.
    pub expected: i64,
    /// Tickets that have gone in at least once.
    pub arrived: i64,
    /// Tickets inside now.
    pub inside: i64,
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct GateCount {
    pub list_id: String,
    pub gate: String,
    /// Scans that let someone in.
    pub admitted: i64,
    /// Scans refused (already used, revoked, unknown, …).
    pub refused: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Bucket {
    pub from: String,
    /// First entries in this bucket.
    pub arrivals: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckinReport {
    pub lists: Vec<ListCount>,
    pub gates: Vec<GateCount>,
    pub arrivals: Vec<Bucket>,
    /// Offline scans that let in someone the server refuses.
    pub conflicts: i64,
    pub generated_at: String,
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Conflict {
    pub id: String,
    /// What the server answered the scan the device had admitted: `already_used` (two
    /// people on one ticket), `revoked`, `unknown`, `not_on_this_list`, ...
    pub kind: String,
    pub list_id: String,
    pub ticket_id: Option<String>,
    /// The offline scan.
    pub scan_id: String,
    pub gate: String,
    pub device_id: String,
    #[serde(skip)]
    pub scanned_ms: i64,
    #[sqlx(skip)]
    pub scanned_at: String,
    /// Where the ticket had gone in first, for `already_used`.
    pub first_gate: Option<String>,
    #[serde(skip)]
    pub first_ms: Option<i64>,
    #[sqlx(skip)]
    pub first_at: Option<String>,
}
