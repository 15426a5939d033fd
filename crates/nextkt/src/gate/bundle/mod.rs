//! The offline bundle: what a scanner device needs to admit people without network. It
//! holds the device's check-in lists, the events' Ed25519 verification keys, the lookup
//! hashes of revoked codes, and each ticket's attendee data sealed with a key derived from
//! that ticket's code (see [`super::sealing`]). The format is documented in `docs/gate.md`.
//!
//! When the doors open every device fetches its bundle at once, and a large event's bundle
//! is tens of megabytes: so a bundle, once built, is shared for `FRESH_FOR` by every device
//! that scans the same lists, and only one is built at a time. A revocation bumps the
//! organization's gate version (in the revoking transaction), and a bundle built before
//! the bump is never handed out again, by any process.
//!
//! `handlers` serves the bundle from the cache, `service` builds it, `store` holds the SQL.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::lists::CheckinList;

mod handlers;
mod service;
mod store;

// A glob, so the `__path_*` items of the handlers come along for the router's `routes!`.
pub use handlers::*;
pub use store::bump_version;

pub const FORMAT: &str = "nextkt-gate-bundle/1";

/// How long a built bundle is handed out again.
const FRESH_FOR: Duration = Duration::from_secs(5);

/// A bundle as built: when, at which gate version, and its JSON.
type Built = Option<(Instant, i64, Bytes)>;
/// One organization-and-lists' bundle; its lock keeps that bundle's builds one at a time.
type Slot = Arc<tokio::sync::Mutex<Built>>;

/// Built bundles by organization and lists.
#[derive(Default)]
pub struct BundleCache {
    slots: Mutex<HashMap<String, Slot>>,
}

impl BundleCache {
    fn slot(&self, key: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        // Forget bundles that have gone stale and that no request is using.
        slots.retain(|_, slot| {
            Arc::strong_count(slot) > 1
                || slot.try_lock().is_ok_and(|built| {
                    built
                        .as_ref()
                        .is_some_and(|(at, _, _)| at.elapsed() < FRESH_FOR)
                })
        });
        slots.entry(key.to_string()).or_default().clone()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BundleKey {
    /// The `kid` of QR payloads it signed.
    pub id: String,
    /// Ed25519 public key, base64url without padding.
    pub public_key: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BundleEvent {
    pub id: String,
    pub keys: Vec<BundleKey>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Bundle {
    /// `nextkt-gate-bundle/1`.
    pub format: String,
    pub generated_at: String,
    pub organization_id: String,
    pub lists: Vec<CheckinList>,
    pub events: Vec<BundleEvent>,
    /// Lookup hashes of codes that no longer admit anyone.
    pub revoked: Vec<String>,
    /// Sealed attendee data by the lookup hash of the ticket's code.
    pub attendees: BTreeMap<String, String>,
}

/// What a sealed attendee entry holds once opened with the ticket's code.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SealedAttendee {
    pub ticket_id: String,
    pub event_id: String,
    pub ticket_type_id: String,
    pub ticket_type: String,
    pub holder_name: String,
    pub seat: Option<String>,
    /// Lists the ticket had entered when the bundle was made.
    pub entered_list_ids: Vec<String>,
    /// Lists the ticket was inside of when the bundle was made.
    pub inside_list_ids: Vec<String>,
}
