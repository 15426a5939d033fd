//! The SQL of the offline bundle: the gate version, and what a bundle holds of an event.

use crate::platform::db::{Db, Tx};
use crate::tickets::TicketStatus;

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

pub async fn version(db: &Db, org_id: &str) -> Result<i64, sqlx::Error> {
    let version: Option<i64> =
        sqlx::query_scalar("SELECT version FROM gate_versions WHERE organization_id = $1")
            .bind(org_id.to_string())
            .fetch_optional(&db.pool)
            .await?;
    Ok(version.unwrap_or(0))
}

#[derive(sqlx::FromRow)]
pub struct BundleTicket {
    pub id: String,
    pub code: String,
    pub event_id: String,
    pub ticket_type_id: String,
    pub holder_name: String,
    #[sqlx(try_from = "String")]
    pub status: TicketStatus,
    pub ticket_type: String,
    pub row_label: Option<String>,
    pub seat_number: Option<String>,
}

/// The event's unretired signing keys, oldest first: id and public key.
pub async fn event_keys(db: &Db, event_id: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, public_key FROM event_signing_keys WHERE event_id = $1 AND retired_at IS NULL ORDER BY created_at, id",
    )
    .bind(event_id.to_string())
    .fetch_all(&db.pool)
    .await
}

/// The lookup hashes of the event's revoked codes.
pub async fn revoked_codes(db: &Db, event_id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT code_hash FROM revoked_codes WHERE event_id = $1 ORDER BY code_hash")
        .bind(event_id.to_string())
        .fetch_all(&db.pool)
        .await
}

/// The event's first entries: ticket, list, and whether it is inside now.
pub async fn checkins(db: &Db, event_id: &str) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.ticket_id, c.list_id, c.inside FROM ticket_checkins c \
         JOIN checkin_lists l ON l.id = c.list_id WHERE l.event_id = $1",
    )
    .bind(event_id.to_string())
    .fetch_all(&db.pool)
    .await
}

/// The organization's tickets of the event, with their type's name and seat.
pub async fn tickets(
    db: &Db,
    org_id: &str,
    event_id: &str,
) -> Result<Vec<BundleTicket>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id, t.code, t.event_id, t.ticket_type_id, t.holder_name, t.status, \
         tt.name AS ticket_type, s.row_label, s.seat_number FROM tickets t \
         JOIN ticket_types tt ON tt.id = t.ticket_type_id LEFT JOIN seats s ON s.id = t.seat_id \
         WHERE t.event_id = $1 AND t.organization_id = $2",
    )
    .bind(event_id.to_string())
    .bind(org_id.to_string())
    .fetch_all(&db.pool)
    .await
}
