//! The SQL of guest lists.

use std::collections::HashSet;

use super::{Entry, Guest, GuestTicket};
use crate::platform::clock::{Millis, opt_rfc3339, rfc3339};
use crate::platform::db::{Db, Tx};

/// The organization's locale (guest emails are written in it).
pub async fn org_locale(tx: &mut Tx, org_id: &str) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT locale FROM organizations WHERE id = $1")
        .bind(org_id.to_string())
        .fetch_one(&mut **tx)
        .await
}

/// Where a guest belongs and comes from.
pub struct NewGuest<'a> {
    pub id: &'a str,
    pub org_id: &'a str,
    pub event_id: &'a str,
    pub order_id: String,
    /// `manual` or `csv`.
    pub source: &'a str,
}

pub async fn insert(
    tx: &mut Tx,
    guest: NewGuest<'_>,
    e: &Entry,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO guests (id, organization_id, event_id, name, email, ticket_type_id, quantity, note, \
         order_id, source, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(guest.id.to_string())
    .bind(guest.org_id.to_string())
    .bind(guest.event_id.to_string())
    .bind(e.name.clone())
    .bind(e.email.clone())
    .bind(e.ticket_type_id.clone())
    .bind(e.quantity)
    .bind(e.note.clone())
    .bind(guest.order_id)
    .bind(guest.source.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// (lower-cased email, ticket type id) of the event's guests.
pub async fn existing(db: &Db, event_id: &str) -> Result<HashSet<(String, String)>, sqlx::Error> {
    Ok(sqlx::query_as::<_, (String, String)>(
        "SELECT email, ticket_type_id FROM guests WHERE event_id = $1",
    )
    .bind(event_id.to_string())
    .fetch_all(&db.pool)
    .await?
    .into_iter()
    .map(|(email, tt)| (email.to_ascii_lowercase(), tt))
    .collect())
}

#[derive(sqlx::FromRow)]
struct GuestTicketRow {
    guest_id: String,
    name: String,
    email: String,
    ticket_type_id: String,
    quantity: i64,
    note: String,
    order_id: String,
    source: String,
    created_at: i64,
    ticket_id: Option<String>,
    code: Option<String>,
    qr_payload: Option<String>,
    status: Option<String>,
    arrived_at: Option<i64>,
}

/// Guests of the event with their tickets, oldest first: `only` that one, or up to `limit`
/// after the id `after` (`""`: from the first).
pub async fn of_event(
    db: &Db,
    base_url: &str,
    event_id: &str,
    only: Option<&str>,
    after: &str,
    limit: i64,
) -> Result<Vec<Guest>, sqlx::Error> {
    let rows: Vec<GuestTicketRow> = sqlx::query_as(
        "SELECT g.id AS guest_id, g.name, g.email, g.ticket_type_id, g.quantity, g.note, g.order_id, g.source, \
         g.created_at, t.id AS ticket_id, t.code, t.qr_payload, t.status, \
         (SELECT MIN(c.first_at) FROM ticket_checkins c WHERE c.ticket_id = t.id) AS arrived_at \
         FROM guests g LEFT JOIN tickets t ON t.order_id = g.order_id \
         WHERE g.id IN (SELECT id FROM guests WHERE event_id = $1 AND ($2 = '' OR id = $2) \
         AND ($3 = '' OR id > $3) ORDER BY id LIMIT $4) ORDER BY g.id, t.id",
    )
    .bind(event_id.to_string())
    .bind(only.unwrap_or_default().to_string())
    .bind(after.to_string())
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    let mut guests: Vec<Guest> = Vec::new();
    for r in rows {
        if guests.last().is_none_or(|g| g.id != r.guest_id) {
            guests.push(Guest {
                id: r.guest_id.clone(),
                name: r.name,
                email: r.email,
                ticket_type_id: r.ticket_type_id,
                quantity: r.quantity,
                note: r.note,
                order_id: r.order_id,
                source: r.source,
                created_at: rfc3339(r.created_at),
                arrived: false,
                tickets: Vec::new(),
            });
        }
        if let (Some(guest), Some(id), Some(code)) = (guests.last_mut(), r.ticket_id, r.code) {
            guest.arrived |= r.arrived_at.is_some();
            guest.tickets.push(GuestTicket {
                id,
                url: format!("{base_url}/t/{code}"),
                code,
                qr_payload: r.qr_payload.unwrap_or_default(),
                status: r.status.unwrap_or_default(),
                arrived_at: opt_rfc3339(r.arrived_at),
            });
        }
    }
    Ok(guests)
}
