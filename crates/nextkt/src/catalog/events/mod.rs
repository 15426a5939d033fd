//! Events: what is on, when and where, how it is sold. Operators manage them under
//! `/admin/events`; status moves `draft` → `published` → `ended`, or to `cancelled`.
//!
//! `handlers` parses and authorizes, `service` holds the rules and the transactions, `store`
//! the SQL; `types` the shapes the API reads and writes.

mod handlers;
mod service;
mod store;
mod types;

use crate::ids::{EventId, OrgId};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::commerce::pricing::FeePayer;
use crate::platform::clock::{Millis, rfc3339};
use crate::platform::error::ApiError;

// A glob, so the `__path_*` items `#[utoipa::path]` generates beside each handler come
// along: the router's `routes!(events::list)` needs them here.
pub use handlers::*;
pub use service::{apply_artist_snapshot, apply_venue_snapshot, mark_kisum_missing};
pub use store::{EVENT_COLUMNS, find, find_in};
pub use types::{Event, EventInput};

pub const DEFAULT_HOLD_MINUTES: i64 = 10;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VenueRef {
    /// The Kisum venue id, when the venue comes from Kisum. With Kisum connected, its name,
    /// city, address, capacity and time zone come from Kisum (what is sent is ignored).
    pub id: Option<String>,
    /// Required unless `id` names a Kisum venue.
    #[serde(default)]
    pub name: String,
    pub city: Option<String>,
    pub address: Option<String>,
    pub capacity: Option<i64>,
    /// The venue's IANA time zone (from Kisum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// For a Kisum venue: `fresh` (read from Kisum), `pending` (Kisum did not answer when
    /// the event was saved; filled in when it does) or `missing` (Kisum no longer has it).
    /// Set by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// The Kisum venue company that owns it (from Kisum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
}

/// A promoter or partner presenting an event: free text, a Kisum company id, or both, with
/// its share of the event's sales for attribution (basis points; the shares of an event add
/// up to at most 10,000, the rest is unattributed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HostRef {
    pub name: Option<String>,
    pub kisum_company_id: Option<String>,
    #[serde(default)]
    pub share_bps: i64,
}

/// An artist an event shows: a Kisum artist id and what Kisum said of it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ArtistRef {
    pub id: String,
    /// Empty while the snapshot is pending (or when Kisum is not connected).
    pub name: String,
    pub image_url: Option<String>,
    /// `fresh`, `pending` or `missing`; absent when Kisum is not connected.
    pub snapshot: Option<String>,
    /// The Kisum artist company that owns the profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Listed in the storefront.
    Public,
    /// Not listed; reachable by id.
    Unlisted,
    /// Not listed; reachable only with the event's access key.
    Private,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// General admission only.
    Ga,
    /// Seats only.
    Seated,
    /// Both.
    Mixed,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Private => "private",
        }
    }
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Ga => "ga",
            Mode::Seated => "seated",
            Mode::Mixed => "mixed",
        }
    }

    pub fn allows(self, kind: &str) -> bool {
        match self {
            Mode::Ga => kind == "ga",
            Mode::Seated => kind == "seated",
            Mode::Mixed => true,
        }
    }
}

fn parse_enum<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).ok()
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: EventId,
    pub organization_id: OrgId,
    pub title_json: String,
    pub description_json: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub timezone: String,
    pub venue_json: Option<String>,
    pub city: Option<String>,
    pub artist_ids_json: String,
    pub artists_json: String,
    pub hosts_json: String,
    pub status: String,
    pub visibility: String,
    pub access_key: Option<String>,
    pub mode: String,
    pub sale_starts_at: Option<i64>,
    pub sale_ends_at: Option<i64>,
    pub max_per_order: Option<i64>,
    pub max_per_buyer: Option<i64>,
    pub hold_seconds: i64,
    pub hold_extension_seconds: i64,
    pub map_image_ref: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub published_at: Option<i64>,
    pub fee_payer: String,
    pub buyer_transfers: i64,
    pub transfer_cutoff_seconds: i64,
    pub currency: String,
}

impl EventRow {
    pub fn mode(&self) -> Mode {
        parse_enum(&self.mode).unwrap_or(Mode::Ga)
    }

    pub fn visibility(&self) -> Visibility {
        parse_enum(&self.visibility).unwrap_or(Visibility::Private)
    }

    pub fn fee_payer(&self) -> FeePayer {
        parse_enum(&self.fee_payer).unwrap_or(FeePayer::Buyer)
    }

    pub fn title(&self) -> BTreeMap<String, String> {
        serde_json::from_str(&self.title_json).unwrap_or_default()
    }

    /// The title in `locale`, or in any language it has.
    pub fn title_in(&self, locale: &str) -> String {
        title_in(&self.title(), locale)
    }

    pub fn venue(&self) -> Option<VenueRef> {
        self.venue_json
            .as_deref()
            .and_then(|v| serde_json::from_str(v).ok())
    }

    /// What an email says of the event, in `locale`: `event` (its title), `event_starts_at`
    /// (RFC 3339, UTC), `event_timezone`, `venue` and `venue_city`. Templates show the start
    /// in the event's zone with the `local_time` filter.
    pub fn email_details(&self, locale: &str) -> serde_json::Map<String, serde_json::Value> {
        let venue = self.venue();
        let city = venue
            .as_ref()
            .and_then(|v| v.city.clone())
            .or_else(|| self.city.clone());
        let mut details = serde_json::Map::new();
        details.insert("event".into(), self.title_in(locale).into());
        details.insert("event_starts_at".into(), rfc3339(self.starts_at).into());
        details.insert("event_timezone".into(), self.timezone.clone().into());
        details.insert("venue".into(), venue.map(|v| v.name).into());
        details.insert("venue_city".into(), city.into());
        details
    }

    /// Whether buyers can put this event's tickets in a cart right now.
    pub fn on_sale(&self, now: Millis) -> Result<(), ApiError> {
        if self.status != "published" {
            return Err(ApiError::rule("not_on_sale", "the event is not on sale"));
        }
        if self.sale_starts_at.is_some_and(|at| now < at) {
            return Err(ApiError::rule(
                "sale_not_started",
                "the sale has not started yet",
            ));
        }
        if self.sale_ends_at.is_some_and(|at| now >= at) || now >= self.ends_at {
            return Err(ApiError::rule("sale_ended", "the sale has ended"));
        }
        Ok(())
    }
}

/// A title in `locale`, or in any language it has.
pub fn title_in(title: &BTreeMap<String, String>, locale: &str) -> String {
    title
        .get(locale)
        .or_else(|| title.values().next())
        .cloned()
        .unwrap_or_default()
}
