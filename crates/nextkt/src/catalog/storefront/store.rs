//! The SQL of the storefront: its listing of events, and which seats are taken.

use std::collections::HashSet;

use crate::catalog::events::{EVENT_COLUMNS, EventRow};
use crate::platform::clock::Millis;
use crate::platform::db::Db;

/// What a storefront's listing asks for.
pub struct Listing<'a> {
    pub org_id: &'a str,
    /// Starting at or after.
    pub from: Millis,
    /// Starting before.
    pub to: Millis,
    /// Lowercase; `""`: any city.
    pub city: &'a str,
    /// Lowercase words the search text must contain; `""`: any.
    pub words: &'a str,
    /// Past this start time and id.
    pub after_start: Millis,
    pub after_id: &'a str,
    pub limit: i64,
}

/// The organization's published public events, soonest first (then by id).
pub async fn listed(db: &Db, listing: Listing<'_>) -> Result<Vec<EventRow>, sqlx::Error> {
    // LIKE wildcards in the search text are matched literally.
    let pattern = format!(
        "%{}%",
        listing
            .words
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE organization_id = $1 AND status = 'published' \
         AND visibility = 'public' AND starts_at >= $2 AND starts_at < $3 \
         AND ($4 = '' OR LOWER(city) = $4) AND search_text LIKE $5 ESCAPE '\\' \
         AND (starts_at > $6 OR (starts_at = $6 AND id > $7)) \
         ORDER BY starts_at, id LIMIT $8"
    )))
    .bind(listing.org_id.to_string())
    .bind(listing.from)
    .bind(listing.to)
    .bind(listing.city.to_string())
    .bind(pattern)
    .bind(listing.after_start)
    .bind(listing.after_id.to_string())
    .bind(listing.limit)
    .fetch_all(&db.pool)
    .await
}

/// The event's seats sold or held at `now`.
pub async fn claimed_seats(
    db: &Db,
    event_id: &str,
    now: Millis,
) -> Result<HashSet<String>, sqlx::Error> {
    Ok(sqlx::query_scalar::<_, String>(
        "SELECT seat_id FROM seat_claims WHERE event_id = $1 AND (kind = 'ticket' OR expires_at > $2)",
    )
    .bind(event_id.to_string())
    .bind(now)
    .fetch_all(&db.pool)
    .await?
    .into_iter()
    .collect())
}
