//! Check-in lists: which ticket types a list admits, when, and whether people may leave and
//! come back.
//!
//! `handlers` parses and authorizes, `service` holds the rules and the transaction, `store`
//! the SQL.

mod handlers;
mod service;
mod store;

use serde::Serialize;
use utoipa::ToSchema;

use crate::platform::clock::{opt_rfc3339, rfc3339};

// A glob, so the `__path_*` items of the handlers come along for the router's `routes!`.
pub use handlers::*;
pub use store::{by_ids, find, of_event};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListRow {
    pub id: String,
    pub organization_id: String,
    pub event_id: String,
    pub name: String,
    pub ticket_type_ids_json: String,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub allow_reentry: i64,
    pub created_at: i64,
}

pub const LIST_COLUMNS: &str = "id, organization_id, event_id, name, ticket_type_ids_json, starts_at, ends_at, allow_reentry, created_at";

impl ListRow {
    pub fn admits(&self, ticket_type_id: &str) -> bool {
        let ids: Vec<String> = serde_json::from_str(&self.ticket_type_ids_json).unwrap_or_default();
        ids.is_empty() || ids.iter().any(|i| i == ticket_type_id)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckinList {
    pub id: String,
    pub event_id: String,
    pub name: String,
    /// Admitted ticket types (all when empty).
    pub ticket_type_ids: Vec<String>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    /// Whether a guest who left may enter again.
    pub allow_reentry: bool,
    pub created_at: String,
}

impl From<ListRow> for CheckinList {
    fn from(r: ListRow) -> Self {
        CheckinList {
            ticket_type_ids: serde_json::from_str(&r.ticket_type_ids_json).unwrap_or_default(),
            id: r.id,
            event_id: r.event_id,
            name: r.name,
            starts_at: opt_rfc3339(r.starts_at),
            ends_at: opt_rfc3339(r.ends_at),
            allow_reentry: r.allow_reentry != 0,
            created_at: rfc3339(r.created_at),
        }
    }
}
