//! The SQL of gate reports (reads only).

use super::{Attendee, Conflict, GateCount};
use crate::platform::db::Db;

const ATTENDEE_SELECT: &str = "SELECT t.id AS ticket_id, t.code, t.holder_name, t.holder_email, t.ticket_type_id, \
    tt.name AS ticket_type, t.order_id, o.kind, t.status, \
    (SELECT MIN(c.first_at) FROM ticket_checkins c WHERE c.ticket_id = t.id) AS arrived_ms \
    FROM tickets t JOIN ticket_types tt ON tt.id = t.ticket_type_id JOIN orders o ON o.id = t.order_id \
    WHERE t.event_id = $1 AND t.organization_id = $2 \
    AND ($3 = '' OR t.holder_search LIKE $4 ESCAPE '\\' OR t.code = $3) \
    AND ($5 = '' OR o.kind = $5) \
    AND ($6 = '' OR ($6 = 'yes') = EXISTS (SELECT 1 FROM ticket_checkins c WHERE c.ticket_id = t.id))";

/// The attendee filter as the query binds it.
pub struct Filter {
    pub q: String,
    pub like: String,
    pub kind: String,
    /// `yes`, `no`, or empty for either.
    pub arrived: String,
}

/// The event's tickets matching the filter: a page (`(cursor bound, fetch limit)`, newest
/// first), or all of them by holder name.
pub async fn attendees(
    db: &Db,
    org_id: &str,
    event_id: &str,
    f: &Filter,
    page: Option<(String, i64)>,
) -> Result<Vec<Attendee>, sqlx::Error> {
    let tail = match page {
        Some(_) => "AND ($7 = '' OR t.id < $7) ORDER BY t.id DESC LIMIT $8",
        None => "ORDER BY t.holder_name, t.id",
    };
    let query = sqlx::query_as(sqlx::AssertSqlSafe(format!("{ATTENDEE_SELECT} {tail}")))
        .bind(event_id.to_string())
        .bind(org_id.to_string())
        .bind(f.q.clone())
        .bind(f.like.clone())
        .bind(f.kind.clone())
        .bind(f.arrived.clone());
    let query = match page {
        Some((bound, limit)) => query.bind(bound).bind(limit),
        None => query,
    };
    query.fetch_all(&db.pool).await
}

/// Valid tickets of the event by ticket type.
pub async fn valid_per_type(db: &Db, event_id: &str) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT ticket_type_id, COUNT(*) FROM tickets WHERE event_id = $1 AND status = 'valid' GROUP BY ticket_type_id",
    )
    .bind(event_id.to_string())
    .fetch_all(&db.pool)
    .await
}

/// Tickets that have entered the list, and how many are inside now.
pub async fn list_counts(db: &Db, list_id: &str) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(inside), 0) AS BIGINT) FROM ticket_checkins WHERE list_id = $1",
    )
    .bind(list_id.to_string())
    .fetch_one(&db.pool)
    .await
}

/// Scans admitted and refused per list and gate of the event.
pub async fn gate_counts(db: &Db, event_id: &str) -> Result<Vec<GateCount>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.list_id, s.gate, \
         CAST(COALESCE(SUM(CASE WHEN s.result = 'valid' THEN 1 ELSE 0 END), 0) AS BIGINT) AS admitted, \
         CAST(COALESCE(SUM(CASE WHEN s.result IN ('valid', 'exited', 'pending') THEN 0 ELSE 1 END), 0) AS BIGINT) AS refused \
         FROM scans s JOIN checkin_lists l ON l.id = s.list_id WHERE l.event_id = $1 \
         GROUP BY s.list_id, s.gate ORDER BY s.list_id, s.gate",
    )
    .bind(event_id.to_string())
    .fetch_all(&db.pool)
    .await
}

/// First entries of the event per bucket of `bucket_ms`: the bucket's start and count.
pub async fn arrivals(
    db: &Db,
    event_id: &str,
    bucket_ms: i64,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT (c.first_at / $2) * $2 AS bucket, COUNT(*) FROM ticket_checkins c \
         JOIN checkin_lists l ON l.id = c.list_id WHERE l.event_id = $1 GROUP BY (c.first_at / $2) * $2 ORDER BY bucket",
    )
    .bind(event_id.to_string())
    .bind(bucket_ms)
    .fetch_all(&db.pool)
    .await
}

/// Offline conflicts recorded for the event.
pub async fn conflict_count(db: &Db, event_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM scan_conflicts WHERE event_id = $1")
        .bind(event_id.to_string())
        .fetch_one(&db.pool)
        .await
}

/// A page of the event's conflicts, oldest first, after the id `after` (`""`: from the first).
pub async fn conflicts(
    db: &Db,
    event_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<Conflict>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.id, c.kind, c.list_id, c.ticket_id, c.scan_id, s.gate, s.device_id, s.scanned_at AS scanned_ms, \
         k.first_gate, k.first_at AS first_ms FROM scan_conflicts c JOIN scans s ON s.id = c.scan_id \
         LEFT JOIN ticket_checkins k ON k.ticket_id = c.ticket_id AND k.list_id = c.list_id \
         WHERE c.event_id = $1 AND ($2 = '' OR c.id > $2) ORDER BY c.id LIMIT $3",
    )
    .bind(event_id.to_string())
    .bind(after.to_string())
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}
