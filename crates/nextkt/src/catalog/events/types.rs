//! What the event API reads and writes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ArtistRef, EventRow, HostRef, Mode, VenueRef, Visibility};
use crate::commerce::pricing::FeePayer;
use crate::platform::clock::{opt_rfc3339, rfc3339};

/// An event as operators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Event {
    pub id: String,
    /// Title by language (`en`, `id`).
    pub title: BTreeMap<String, String>,
    pub description: BTreeMap<String, String>,
    pub starts_at: String,
    pub ends_at: String,
    /// IANA time zone the event is local to.
    pub timezone: String,
    pub venue: Option<VenueRef>,
    /// Kisum artist ids.
    pub artist_ids: Vec<String>,
    /// The artists as Kisum named them (a snapshot per id, refreshed by a job).
    pub artists: Vec<ArtistRef>,
    /// Who presents the event, with their shares of attribution.
    pub hosts: Vec<HostRef>,
    /// `draft`, `published`, `ended` or `cancelled`.
    pub status: String,
    pub visibility: Visibility,
    /// For private events: the key a buyer's link carries (`?access_key=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    pub mode: Mode,
    pub sale_starts_at: Option<String>,
    pub sale_ends_at: Option<String>,
    pub max_per_order: Option<i64>,
    pub max_per_buyer: Option<i64>,
    /// How long a cart holds tickets.
    pub hold_minutes: i64,
    /// How much longer a buyer may extend a cart, once (0: no extension).
    pub hold_extension_minutes: i64,
    pub map_image_ref: Option<String>,
    /// Who pays the platform fee: `buyer` (added to the total) or `organizer`.
    pub fee_payer: FeePayer,
    /// ISO 4217: every ticket type of the event is priced in it.
    pub currency: String,
    /// Whether buyers may transfer their tickets to someone else (operators always may).
    pub buyer_transfers: bool,
    /// Buyers' transfers close this many minutes before the event starts.
    pub transfer_cutoff_minutes: i64,
    pub created_at: String,
    pub updated_at: String,
    pub published_at: Option<String>,
}

impl From<EventRow> for Event {
    fn from(row: EventRow) -> Self {
        Event {
            title: row.title(),
            description: serde_json::from_str(&row.description_json).unwrap_or_default(),
            venue: row
                .venue_json
                .as_deref()
                .and_then(|v| serde_json::from_str(v).ok()),
            artist_ids: serde_json::from_str(&row.artist_ids_json).unwrap_or_default(),
            artists: serde_json::from_str(&row.artists_json).unwrap_or_default(),
            hosts: serde_json::from_str(&row.hosts_json).unwrap_or_default(),
            visibility: row.visibility(),
            mode: row.mode(),
            fee_payer: row.fee_payer(),
            id: row.id.into_string(),
            starts_at: rfc3339(row.starts_at),
            ends_at: rfc3339(row.ends_at),
            timezone: row.timezone,
            status: row.status,
            access_key: row.access_key,
            sale_starts_at: opt_rfc3339(row.sale_starts_at),
            sale_ends_at: opt_rfc3339(row.sale_ends_at),
            max_per_order: row.max_per_order,
            max_per_buyer: row.max_per_buyer,
            hold_minutes: row.hold_seconds / 60,
            hold_extension_minutes: row.hold_extension_seconds / 60,
            buyer_transfers: row.buyer_transfers != 0,
            transfer_cutoff_minutes: row.transfer_cutoff_seconds / 60,
            map_image_ref: row.map_image_ref,
            currency: row.currency,
            created_at: rfc3339(row.created_at),
            updated_at: rfc3339(row.updated_at),
            published_at: opt_rfc3339(row.published_at),
        }
    }
}

/// Fields of an event; on create the required ones must be present, on update any subset.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// Title by language, e.g. `{"en": "Java Jazz", "id": "Java Jazz"}`.
    pub title: Option<BTreeMap<String, String>>,
    pub description: Option<BTreeMap<String, String>>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    /// IANA time zone; the organization's by default.
    pub timezone: Option<String>,
    pub venue: Option<VenueRef>,
    pub artist_ids: Option<Vec<String>>,
    /// Replaces the event's hosts (at most 20; shares add up to at most 10,000 bps).
    pub hosts: Option<Vec<HostRef>>,
    pub visibility: Option<Visibility>,
    pub mode: Option<Mode>,
    /// `""` clears.
    pub sale_starts_at: Option<String>,
    /// `""` clears.
    pub sale_ends_at: Option<String>,
    /// 0 clears.
    pub max_per_order: Option<i64>,
    /// 0 clears.
    pub max_per_buyer: Option<i64>,
    /// 1–60 (default 10).
    pub hold_minutes: Option<i64>,
    /// 0–60 (default 0: carts cannot be extended).
    pub hold_extension_minutes: Option<i64>,
    /// Reference of the venue-map image; `""` clears.
    pub map_image_ref: Option<String>,
    /// Who pays the platform fee: `buyer` (default) or `organizer`.
    pub fee_payer: Option<FeePayer>,
    /// ISO 4217; the organization's by default. Fixed once the event has ticket types.
    pub currency: Option<String>,
    /// Whether buyers may transfer their tickets (default false).
    pub buyer_transfers: Option<bool>,
    /// 0–10080: buyers' transfers close this many minutes before the start (default 0).
    pub transfer_cutoff_minutes: Option<i64>,
}
