//! The SQL of the `tickets` table (and the `data_fixes` note of its backfill).

use super::{TICKET_COLUMNS, TicketRow};
use crate::ids::OrderId;
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};

/// A ticket to write, with its search text.
pub struct NewTicket<'a> {
    pub ticket: &'a TicketRow,
    pub holder_search: &'a str,
}

/// Writes a new ticket (always `valid`).
pub async fn insert(tx: &mut Tx, new: NewTicket<'_>) -> Result<(), sqlx::Error> {
    let ticket = new.ticket;
    sqlx::query(
        "INSERT INTO tickets (id, organization_id, event_id, order_id, ticket_type_id, seat_id, code, \
         holder_name, holder_email, key_id, qr_payload, status, created_at, holder_search, livemode) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'valid', $12, $13, $14)",
    )
    .bind(ticket.id.clone())
    .bind(ticket.organization_id.clone())
    .bind(ticket.event_id.clone())
    .bind(ticket.order_id.clone())
    .bind(ticket.ticket_type_id.clone())
    .bind(ticket.seat_id.clone())
    .bind(ticket.code.clone())
    .bind(ticket.holder_name.clone())
    .bind(ticket.holder_email.clone())
    .bind(ticket.key_id.clone())
    .bind(ticket.qr_payload.clone())
    .bind(ticket.created_at)
    .bind(new.holder_search.to_string())
    .bind(ticket.livemode)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Voids the ticket if it is still valid; whether it was.
pub async fn void_valid(
    tx: &mut Tx,
    ticket_id: &str,
    refund_id: &str,
    released: bool,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE tickets SET status = 'void', voided_at = $1, refund_id = $2, \
         inventory_released_at = CASE WHEN $3 = 1 THEN $1 ELSE NULL END WHERE id = $4 AND status = 'valid'",
    )
    .bind(now)
    .bind(refund_id.to_string())
    .bind(i64::from(released))
    .bind(ticket_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An order's tickets.
pub async fn of_order(db: &Db, order_id: &OrderId) -> Result<Vec<TicketRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TICKET_COLUMNS} FROM tickets WHERE order_id = $1 ORDER BY id"
    )))
    .bind(order_id.to_string())
    .fetch_all(&db.pool)
    .await
}

/// Whether the named data fix has been done.
pub async fn fix_done(db: &Db, name: &str) -> Result<bool, sqlx::Error> {
    let done: Option<String> = sqlx::query_scalar("SELECT name FROM data_fixes WHERE name = $1")
        .bind(name)
        .fetch_optional(&db.pool)
        .await?;
    Ok(done.is_some())
}

/// Notes the named data fix as done.
pub async fn note_fix(db: &Db, name: &str, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO data_fixes (name, done_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Up to a thousand tickets without search text: id, holder name and email.
pub async fn without_search(db: &Db) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, holder_name, holder_email FROM tickets WHERE holder_search = '' LIMIT 1000",
    )
    .fetch_all(&db.pool)
    .await
}

pub async fn set_search(tx: &mut Tx, ticket_id: &str, search: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tickets SET holder_search = $1 WHERE id = $2")
        .bind(search.to_string())
        .bind(ticket_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
