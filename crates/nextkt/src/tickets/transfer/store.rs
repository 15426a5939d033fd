//! The SQL of transfers: the ticket locked, what the rules read, the reassignment and its
//! record.

use super::TransferRecord;
use crate::ids::{OrgId, TicketId};
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};
use crate::tickets::{TICKET_COLUMNS, TicketRow};

/// The organization's ticket, locked (on PostgreSQL) until the transaction ends.
pub async fn lock_of_org(
    db: &Db,
    tx: &mut Tx,
    org_id: &OrgId,
    ticket_id: &TicketId,
) -> Result<Option<TicketRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1 AND organization_id = $2{}",
        db.for_update()
    )))
    .bind(ticket_id.to_string())
    .bind(org_id.to_string())
    .fetch_optional(&mut **tx)
    .await
}

/// The buyer of the order, if it had one.
pub async fn order_buyer(tx: &mut Tx, order_id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT buyer_id FROM orders WHERE id = $1")
        .bind(order_id.to_string())
        .fetch_one(&mut **tx)
        .await
}

/// The order's locale (the new holder's email is written in it).
pub async fn order_locale(tx: &mut Tx, order_id: &str) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT locale FROM orders WHERE id = $1")
        .bind(order_id.to_string())
        .fetch_one(&mut **tx)
        .await
}

/// On how many lists the ticket has gone in.
pub async fn entries(tx: &mut Tx, ticket_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM ticket_checkins WHERE ticket_id = $1")
        .bind(ticket_id.to_string())
        .fetch_one(&mut **tx)
        .await
}

/// The ticket's new code, signature and holder.
pub struct Reassign<'a> {
    pub ticket_id: &'a str,
    pub code: &'a str,
    pub qr_payload: &'a str,
    pub key_id: &'a str,
    pub name: &'a str,
    pub email: &'a str,
    pub holder_search: String,
}

pub async fn reassign(tx: &mut Tx, to: Reassign<'_>, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tickets SET code = $1, qr_payload = $2, key_id = $3, holder_name = $4, holder_email = $5, \
         transferred_at = $6, holder_search = $8 WHERE id = $7",
    )
    .bind(to.code.to_string())
    .bind(to.qr_payload.to_string())
    .bind(to.key_id.to_string())
    .bind(to.name.to_string())
    .bind(to.email.to_string())
    .bind(now)
    .bind(to.ticket_id.to_string())
    .bind(to.holder_search)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One move, as `ticket_transfers` keeps it.
pub struct NewTransfer<'a> {
    pub id: String,
    pub org_id: &'a str,
    pub ticket_id: &'a str,
    pub from_name: &'a str,
    pub from_email: &'a str,
    pub to_name: &'a str,
    pub to_email: &'a str,
    pub old_code_hash: String,
    pub by_kind: &'a str,
    pub by_id: String,
}

pub async fn record(tx: &mut Tx, t: NewTransfer<'_>, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ticket_transfers (id, organization_id, ticket_id, from_name, from_email, to_name, to_email, \
         old_code_hash, by_kind, by_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(t.id)
    .bind(t.org_id.to_string())
    .bind(t.ticket_id.to_string())
    .bind(t.from_name.to_string())
    .bind(t.from_email.to_string())
    .bind(t.to_name.to_string())
    .bind(t.to_email.to_string())
    .bind(t.old_code_hash)
    .bind(t.by_kind.to_string())
    .bind(t.by_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Whether the organization has the ticket.
pub async fn exists(db: &Db, org_id: &str, ticket_id: &str) -> Result<bool, sqlx::Error> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT id FROM tickets WHERE id = $1 AND organization_id = $2")
            .bind(ticket_id.to_string())
            .bind(org_id.to_string())
            .fetch_optional(&db.pool)
            .await?;
    Ok(found.is_some())
}

/// A page of the ticket's transfers, oldest first, after the id `after` (`""`: from the first).
pub async fn history(
    db: &Db,
    ticket_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<TransferRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, from_name, from_email, to_name, to_email, by_kind, by_id, created_at \
         FROM ticket_transfers WHERE ticket_id = $1 AND ($2 = '' OR id > $2) ORDER BY id LIMIT $3",
    )
    .bind(ticket_id.to_string())
    .bind(after.to_string())
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}
