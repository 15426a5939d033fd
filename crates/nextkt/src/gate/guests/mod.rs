//! Guest lists: named guests with complimentary tickets. Each guest gets an order of kind
//! `complimentary` (total 0) and real tickets, claimed from the ticket type's capacity
//! through the oversell core, so a guest list can never push an event past its capacity.
//! Guests are added one at a time or imported from CSV; an import is checked whole and
//! either every line is added or none is.
//!
//! `handlers` parses and authorizes, `csv_import` checks an uploaded file, `service` holds
//! the rules and the transaction, `store` the SQL.

mod csv_import;
mod handlers;
mod service;
mod store;

use serde::Serialize;
use utoipa::ToSchema;

use crate::catalog::ticket_types::TicketTypeRow;

pub use csv_import::LineError;
// A glob, so the `__path_*` items of the handlers come along for the router's `routes!`.
pub use handlers::*;

pub const MAX_PER_GUEST: i64 = 20;
const MAX_IMPORT_LINES: usize = 5_000;

#[derive(Debug, Serialize, ToSchema)]
pub struct GuestTicket {
    pub id: String,
    pub code: String,
    /// The signed text of the ticket's QR code.
    pub qr_payload: String,
    pub url: String,
    pub status: String,
    /// When the ticket first went in on any list.
    pub arrived_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Guest {
    pub id: String,
    pub name: String,
    pub email: String,
    pub ticket_type_id: String,
    pub quantity: i64,
    pub note: String,
    pub order_id: String,
    /// `manual` or `csv`.
    pub source: String,
    pub created_at: String,
    /// Whether any of the guest's tickets has gone in.
    pub arrived: bool,
    pub tickets: Vec<GuestTicket>,
}

/// A guest checked and ready to be written.
pub struct Entry {
    pub name: String,
    pub email: String,
    pub ticket_type_id: String,
    pub quantity: i64,
    pub note: String,
}

/// The event's general-admission ticket type named by id or (case aside) name.
pub fn ga_type<'a>(
    types: &'a [TicketTypeRow],
    id_or_name: &str,
) -> Result<&'a TicketTypeRow, String> {
    let found = types
        .iter()
        .find(|t| t.id == id_or_name)
        .or_else(|| {
            types
                .iter()
                .find(|t| t.name.eq_ignore_ascii_case(id_or_name))
        })
        .ok_or_else(|| format!("no ticket type {id_or_name:?} in this event"))?;
    if found.kind != "ga" {
        return Err("guest tickets need a general-admission ticket type".into());
    }
    Ok(found)
}
