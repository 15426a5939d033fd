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

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::devices::GateDevice;
use super::lists::{self, CheckinList, LIST_COLUMNS, ListRow};
use super::sealing;
use crate::platform::clock::rfc3339;
use crate::platform::db::{Db, Tx, placeholder_list};
use crate::platform::error::{ApiResult, Problem};
use crate::state::AppState;

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

/// Marks a revocation of the organization's tickets, in the revoking transaction.
pub async fn bump_version(tx: &mut Tx, org_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO gate_versions (organization_id, version) VALUES ($1, 1) \
         ON CONFLICT (organization_id) DO UPDATE SET version = gate_versions.version + 1",
    )
    .bind(org_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn version(db: &Db, org_id: &str) -> Result<i64, sqlx::Error> {
    let version: Option<i64> =
        sqlx::query_scalar("SELECT version FROM gate_versions WHERE organization_id = $1")
            .bind(org_id.to_string())
            .fetch_optional(&db.pool)
            .await?;
    Ok(version.unwrap_or(0))
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

#[derive(sqlx::FromRow)]
struct BundleTicket {
    id: String,
    code: String,
    event_id: String,
    ticket_type_id: String,
    holder_name: String,
    status: String,
    ticket_type: String,
    row_label: Option<String>,
    seat_number: Option<String>,
}

/// Download the offline bundle for this device's lists.
#[utoipa::path(
    get, path = "/gate/bundle", tag = "gate",
    responses((status = 200, body = Bundle), (status = 401, body = Problem)),
    security(("bearer" = []))
)]
pub async fn bundle(
    State(state): State<AppState>,
    device: GateDevice,
) -> ApiResult<impl IntoResponse> {
    let mut lists = device.list_ids.clone();
    lists.sort();
    let key = format!("{}:{}", device.org_id, lists.join(","));
    let slot = state.bundles.slot(&key);
    let mut built = slot.lock().await;
    // Read under the lock: a bundle built after this read is at least this version.
    let version = version(&state.db, &device.org_id).await?;
    let body = match built.as_ref() {
        Some((at, v, body)) if at.elapsed() < FRESH_FOR && *v == version => body.clone(),
        _ => {
            let body = Bytes::from(
                serde_json::to_vec(&build(&state, &device).await?).map_err(anyhow::Error::from)?,
            );
            *built = Some((Instant::now(), version, body.clone()));
            body
        }
    };
    drop(built);
    metrics::counter!("nextkt_gate_bundles_total").increment(1);
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    ))
}

async fn build(state: &AppState, device: &GateDevice) -> ApiResult<Bundle> {
    let now = state.clock.now_ms();
    let db = &state.db;
    let list_rows: Vec<ListRow> = if device.list_ids.is_empty() {
        Vec::new()
    } else {
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {LIST_COLUMNS} FROM checkin_lists WHERE organization_id = $1 AND id IN ({}) ORDER BY id",
            placeholder_list(2, device.list_ids.len())
        )))
        .persistent(false)
        .bind(device.org_id.clone());
        for id in &device.list_ids {
            query = query.bind(id.clone());
        }
        query.fetch_all(&db.pool).await?
    };
    let mut event_ids: Vec<String> = list_rows.iter().map(|l| l.event_id.clone()).collect();
    event_ids.sort();
    event_ids.dedup();

    let mut events = Vec::new();
    let mut revoked = Vec::new();
    let mut attendees = BTreeMap::new();
    for event_id in &event_ids {
        let keys: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, public_key FROM event_signing_keys WHERE event_id = $1 AND retired_at IS NULL ORDER BY created_at, id",
        )
        .bind(event_id.clone())
        .fetch_all(&db.pool)
        .await?;
        events.push(BundleEvent {
            id: event_id.clone(),
            keys: keys
                .into_iter()
                .map(|(id, public_key)| BundleKey { id, public_key })
                .collect(),
        });
        revoked.extend(
            sqlx::query_scalar::<_, String>(
                "SELECT code_hash FROM revoked_codes WHERE event_id = $1 ORDER BY code_hash",
            )
            .bind(event_id.clone())
            .fetch_all(&db.pool)
            .await?,
        );
        let checkins: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT c.ticket_id, c.list_id, c.inside FROM ticket_checkins c \
             JOIN checkin_lists l ON l.id = c.list_id WHERE l.event_id = $1",
        )
        .bind(event_id.clone())
        .fetch_all(&db.pool)
        .await?;
        let mut entered: HashMap<String, Vec<(String, bool)>> = HashMap::new();
        for (ticket, list, inside) in checkins {
            entered.entry(ticket).or_default().push((list, inside != 0));
        }
        let tickets: Vec<BundleTicket> = sqlx::query_as(
            "SELECT t.id, t.code, t.event_id, t.ticket_type_id, t.holder_name, t.status, \
             tt.name AS ticket_type, s.row_label, s.seat_number FROM tickets t \
             JOIN ticket_types tt ON tt.id = t.ticket_type_id LEFT JOIN seats s ON s.id = t.seat_id \
             WHERE t.event_id = $1 AND t.organization_id = $2",
        )
        .bind(event_id.clone())
        .bind(device.org_id.clone())
        .fetch_all(&db.pool)
        .await?;
        for t in tickets {
            let hash = sealing::lookup_hash(&t.code);
            if t.status != "valid" {
                revoked.push(hash);
                continue;
            }
            let lists = entered.remove(&t.id).unwrap_or_default();
            let attendee = SealedAttendee {
                ticket_id: t.id,
                event_id: t.event_id,
                ticket_type_id: t.ticket_type_id,
                ticket_type: t.ticket_type,
                holder_name: t.holder_name,
                seat: t
                    .row_label
                    .zip(t.seat_number)
                    .map(|(r, n)| format!("{r}-{n}")),
                entered_list_ids: lists.iter().map(|(l, _)| l.clone()).collect(),
                inside_list_ids: lists
                    .iter()
                    .filter(|(_, inside)| *inside)
                    .map(|(l, _)| l.clone())
                    .collect(),
            };
            let plain = serde_json::to_vec(&attendee).unwrap_or_default();
            attendees.insert(hash, sealing::seal(&t.code, &plain));
        }
    }
    revoked.sort();
    revoked.dedup();
    Ok(Bundle {
        format: FORMAT.into(),
        generated_at: rfc3339(now),
        organization_id: device.org_id.clone(),
        lists: list_rows
            .into_iter()
            .map(lists::CheckinList::from)
            .collect(),
        events,
        revoked,
        attendees,
    })
}
