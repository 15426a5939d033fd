//! Scanner devices. An operator enrolls a device for chosen check-in lists and gets a
//! one-time pairing code (10 minutes); the device trades it at `/gate/pair` for its own
//! secret, which works on `/gate/*` only, for that organization and those lists, until
//! revoked.
//!
//! `handlers` parses and authorizes, `service` holds the rules and the transactions, `store`
//! the SQL, `auth` turns a device's credential into a [`GateDevice`].

mod auth;
mod handlers;
mod service;
mod store;

use serde::Serialize;
use utoipa::ToSchema;

use crate::platform::clock::{opt_rfc3339, rfc3339};

// A glob, so the `__path_*` items of the handlers come along for the router's `routes!`.
pub use handlers::*;

pub const DEVICE_PREFIX: &str = "nkt_dev_";

#[derive(Debug, Serialize, ToSchema)]
pub struct Device {
    pub id: String,
    pub name: String,
    pub list_ids: Vec<String>,
    /// `awaiting_pairing`, `active` or `revoked`.
    pub status: String,
    pub paired_at: Option<String>,
    pub revoked_at: Option<String>,
    pub created_at: String,
}

#[derive(sqlx::FromRow)]
struct DeviceRow {
    id: String,
    name: String,
    list_ids_json: String,
    paired_at: Option<i64>,
    revoked_at: Option<i64>,
    created_at: i64,
}

impl From<DeviceRow> for Device {
    fn from(r: DeviceRow) -> Self {
        Device {
            status: if r.revoked_at.is_some() {
                "revoked"
            } else if r.paired_at.is_some() {
                "active"
            } else {
                "awaiting_pairing"
            }
            .into(),
            list_ids: serde_json::from_str(&r.list_ids_json).unwrap_or_default(),
            id: r.id,
            name: r.name,
            paired_at: opt_rfc3339(r.paired_at),
            revoked_at: opt_rfc3339(r.revoked_at),
            created_at: rfc3339(r.created_at),
        }
    }
}

/// A paired, unrevoked device of an active organization.
#[derive(Clone)]
pub struct GateDevice {
    pub id: String,
    pub org_id: String,
    pub list_ids: Vec<String>,
}
