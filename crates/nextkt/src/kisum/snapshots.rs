//! Snapshots of the Kisum venues and artists that events reference: taken when an event is
//! saved (so the storefront never asks Kisum anything), and refreshed by a leased job. When
//! Kisum does not answer at save time the event is saved anyway with the id and a `pending`
//! snapshot, which the job fills in once Kisum answers again.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::client::{KisumError, Venue};
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};
use crate::platform::error::{ApiError, ApiResult};
use crate::state::AppState;
use service::jobs::Lease;

/// What an event keeps of a Kisum venue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VenueSnapshot {
    /// The Kisum venue company that owns it.
    #[serde(default)]
    pub company_id: String,
    pub name: String,
    pub city: String,
    pub address: String,
    pub country: String,
    pub capacity: i64,
    pub timezone: String,
    /// Kisum archived it (the event still points at it).
    pub archived: bool,
}

/// What an event keeps of a Kisum artist.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ArtistSnapshot {
    #[serde(default)]
    pub company_id: String,
    pub name: String,
    pub image_url: Option<String>,
    pub archived: bool,
}

impl From<&Venue> for VenueSnapshot {
    fn from(v: &Venue) -> Self {
        VenueSnapshot {
            company_id: v.company_id.clone(),
            name: v.name.clone(),
            city: v.city.clone(),
            address: v.address.clone(),
            country: v.country.clone(),
            capacity: v.capacity,
            timezone: v.timezone.clone(),
            archived: v.archived,
        }
    }
}

impl From<&super::client::Artist> for ArtistSnapshot {
    fn from(a: &super::client::Artist) -> Self {
        ArtistSnapshot {
            company_id: a.company_id.clone(),
            name: a.name.clone(),
            image_url: a.image_url.clone(),
            archived: a.archived,
        }
    }
}

/// A Kisum entry as of saving: read now (with Kisum's `updatedAt`), or pending because
/// Kisum did not answer — with the last snapshot held, when there is one.
#[derive(Clone, Debug)]
pub enum Resolved<T> {
    Fresh(T, String),
    Stale(T),
    Pending,
}

async fn held<T: serde::de::DeserializeOwned>(
    state: &AppState,
    kind: Kind,
    id: &str,
) -> Result<Option<T>, sqlx::Error> {
    let json: Option<Option<String>> =
        sqlx::query_scalar("SELECT snapshot_json FROM kisum_snapshots WHERE id = $1")
            .bind(kind.key(id))
            .fetch_optional(&state.db.pool)
            .await?;
    Ok(json.flatten().and_then(|j| serde_json::from_str(&j).ok()))
}

/// Reads a venue for an event being saved. Kisum not configured: `None` (the id is kept as
/// given, unchecked). Unknown to Kisum: 422 `unknown_venue`.
pub async fn resolve_venue(
    state: &AppState,
    id: &str,
) -> ApiResult<Option<Resolved<VenueSnapshot>>> {
    let Some(kisum) = state.kisum.as_deref() else {
        return Ok(None);
    };
    match kisum.venue(id).await {
        Ok(venue) => Ok(Some(Resolved::Fresh((&venue).into(), venue.updated_at))),
        Err(KisumError::NotFound) => Err(ApiError::rule(
            "unknown_venue",
            format!("Kisum has no venue {id:?}"),
        )),
        Err(_) => Ok(Some(match held(state, Kind::Venue, id).await? {
            Some(snapshot) => Resolved::Stale(snapshot),
            None => Resolved::Pending,
        })),
    }
}

/// Reads an artist for an event being saved, as `resolve_venue` does (422 `unknown_artist`).
pub async fn resolve_artist(
    state: &AppState,
    id: &str,
) -> ApiResult<Option<Resolved<ArtistSnapshot>>> {
    let Some(kisum) = state.kisum.as_deref() else {
        return Ok(None);
    };
    match kisum.artist(id).await {
        Ok(artist) => Ok(Some(Resolved::Fresh((&artist).into(), artist.updated_at))),
        Err(KisumError::NotFound) => Err(ApiError::rule(
            "unknown_artist",
            format!("Kisum has no artist {id:?}"),
        )),
        Err(_) => Ok(Some(match held(state, Kind::Artist, id).await? {
            Some(snapshot) => Resolved::Stale(snapshot),
            None => Resolved::Pending,
        })),
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Venue,
    Artist,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Venue => "venue",
            Kind::Artist => "artist",
        }
    }

    /// The row key: `venue:<kisum id>` or `artist:<kisum id>`.
    fn key(self, kisum_id: &str) -> String {
        format!("{}:{kisum_id}", self.as_str())
    }
}

/// Records what was read at save time, in the event's transaction. A fresh read replaces
/// the snapshot; a pending one only makes sure the id is known, due at once for the job.
async fn remember<T: Serialize>(
    tx: &mut Tx,
    kind: Kind,
    id: &str,
    resolved: &Resolved<T>,
    refresh_ms: Millis,
    now: Millis,
) -> Result<(), sqlx::Error> {
    match resolved {
        Resolved::Fresh(snapshot, updated_at) => {
            sqlx::query(
                "INSERT INTO kisum_snapshots (id, kind, kisum_id, status, snapshot_json, kisum_updated_at, \
                 fetched_at, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $6, $7, 'fresh', $2, $3, $4, 0, $5, $4) \
                 ON CONFLICT (id) DO UPDATE SET status = 'fresh', snapshot_json = excluded.snapshot_json, \
                 kisum_updated_at = excluded.kisum_updated_at, fetched_at = excluded.fetched_at, \
                 attempts = 0, next_attempt_at = excluded.next_attempt_at",
            )
            .bind(kind.key(id))
            .bind(serde_json::to_string(snapshot).unwrap_or_default())
            .bind(updated_at)
            .bind(now)
            .bind(now + refresh_ms)
            .bind(kind.as_str())
            .bind(id)
            .execute(&mut **tx)
            .await?;
        }
        Resolved::Stale(_) | Resolved::Pending => {
            // Known or not, it is due at once: the job reads it as soon as Kisum answers.
            sqlx::query(
                "INSERT INTO kisum_snapshots (id, kind, kisum_id, status, snapshot_json, kisum_updated_at, \
                 fetched_at, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $3, $4, 'pending', NULL, NULL, NULL, 0, $2, $2) \
                 ON CONFLICT (id) DO UPDATE SET next_attempt_at = excluded.next_attempt_at",
            )
            .bind(kind.key(id))
            .bind(now)
            .bind(kind.as_str())
            .bind(id)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

pub async fn remember_venue(
    state: &AppState,
    tx: &mut Tx,
    id: &str,
    resolved: &Resolved<VenueSnapshot>,
) -> Result<(), sqlx::Error> {
    let now = state.clock.now_ms();
    remember(tx, Kind::Venue, id, resolved, refresh_ms(state), now).await
}

pub async fn remember_artist(
    state: &AppState,
    tx: &mut Tx,
    id: &str,
    resolved: &Resolved<ArtistSnapshot>,
) -> Result<(), sqlx::Error> {
    let now = state.clock.now_ms();
    remember(tx, Kind::Artist, id, resolved, refresh_ms(state), now).await
}

fn refresh_ms(state: &AppState) -> Millis {
    i64::try_from(state.config.kisum_refresh_secs).unwrap_or(300) * 1000
}

/// Waits before retrying an entry Kisum did not answer for: 30 s, 1 min, 2 min, ... up to
/// the refresh period.
fn retry_ms(attempts: i64, refresh_ms: Millis) -> Millis {
    (30_000i64 << attempts.clamp(0, 10)).min(refresh_ms.max(30_000))
}

const LEASE_MS: Millis = 60_000;

/// Claims due snapshots: `(kind, kisum id, attempts)`.
async fn claim(db: &Db, now: Millis) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    let lease = Lease {
        table: "kisum_snapshots",
        work: "1 = 1",
        also_set: "",
        limit: 50,
        returning: "kind, kisum_id, attempts",
    };
    sqlx::query_as(lease.sql(db.dialect))
        .bind(now + LEASE_MS)
        .bind(now)
        .fetch_all(&db.pool)
        .await
}

/// How reading one entry again went.
enum Outcome {
    /// Kisum answered: the snapshot and Kisum's `updatedAt`.
    Read(String, String),
    /// Kisum no longer knows the id (the last snapshot stays).
    Missing,
    /// Kisum did not answer: the status stays, the try is counted.
    Failed(i64),
}

async fn settle(
    db: &Db,
    kind: Kind,
    id: &str,
    outcome: Outcome,
    next: Millis,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let (status, json, updated, attempts) = match outcome {
        Outcome::Read(json, updated) => (Some("fresh"), Some(json), Some(updated), 0),
        Outcome::Missing => (Some("missing"), None, None, 0),
        Outcome::Failed(attempts) => (None, None, None, attempts),
    };
    sqlx::query(
        "UPDATE kisum_snapshots SET status = COALESCE($2, status), \
         snapshot_json = COALESCE($3, snapshot_json), kisum_updated_at = COALESCE($4, kisum_updated_at), \
         fetched_at = CASE WHEN $3 IS NULL THEN fetched_at ELSE $5 END, \
         attempts = $6, next_attempt_at = $7 WHERE id = $1",
    )
    .bind(kind.key(id))
    .bind(status)
    .bind(json)
    .bind(updated)
    .bind(now)
    .bind(attempts)
    .bind(next)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// One pass of the refresh job: reads every due snapshot from Kisum again and hands it to
/// the events that show it. Answers how many events changed.
pub async fn refresh_once(state: &AppState) -> anyhow::Result<usize> {
    let Some(kisum) = state.kisum.as_deref() else {
        return Ok(0);
    };
    let refresh = refresh_ms(state);
    let mut changed = 0;
    let now = state.clock.now_ms();
    for (kind, id, attempts) in claim(&state.db, now).await? {
        let kind = if kind == "venue" {
            Kind::Venue
        } else {
            Kind::Artist
        };
        let now = state.clock.now_ms();
        let read = match kind {
            Kind::Venue => kisum.venue(&id).await.map(|v| {
                (
                    serde_json::to_string(&VenueSnapshot::from(&v)).unwrap_or_default(),
                    v.updated_at,
                )
            }),
            Kind::Artist => kisum.artist(&id).await.map(|a| {
                (
                    serde_json::to_string(&ArtistSnapshot::from(&a)).unwrap_or_default(),
                    a.updated_at,
                )
            }),
        };
        match read {
            Ok((json, updated_at)) => {
                // Handed over every time it is read: the events rewrite only what
                // differs (a change in Kisum, or an event saved while it was pending).
                let mut tx = state.db.begin().await?;
                changed += match kind {
                    Kind::Venue => {
                        let snapshot: VenueSnapshot = serde_json::from_str(&json)?;
                        crate::catalog::events::apply_venue_snapshot(&mut tx, &id, &snapshot)
                            .await?
                    }
                    Kind::Artist => {
                        let snapshot: ArtistSnapshot = serde_json::from_str(&json)?;
                        crate::catalog::events::apply_artist_snapshot(&mut tx, &id, &snapshot)
                            .await?
                    }
                };
                tx.commit().await?;
                settle(
                    &state.db,
                    kind,
                    &id,
                    Outcome::Read(json, updated_at),
                    now + refresh,
                    now,
                )
                .await?;
            }
            Err(KisumError::NotFound) => {
                // The events keep what they showed, marked `missing`.
                let mut tx = state.db.begin().await?;
                changed +=
                    crate::catalog::events::mark_kisum_missing(&mut tx, kind.as_str(), &id).await?;
                tx.commit().await?;
                settle(&state.db, kind, &id, Outcome::Missing, now + refresh, now).await?;
            }
            Err(_) => {
                let next = now + retry_ms(attempts, refresh);
                settle(
                    &state.db,
                    kind,
                    &id,
                    Outcome::Failed(attempts + 1),
                    next,
                    now,
                )
                .await?;
            }
        }
    }
    Ok(changed)
}

/// The refresh job's period between passes.
pub fn period() -> Duration {
    Duration::from_secs(15)
}
