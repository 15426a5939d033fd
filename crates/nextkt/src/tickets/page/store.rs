//! What the ticket page reads: the ticket by its code, its event and type, its seat.

use crate::platform::db::Db;
use crate::tickets::{TICKET_COLUMNS, TicketRow};

#[derive(sqlx::FromRow)]
pub struct Extra {
    pub title_json: String,
    pub starts_at: i64,
    pub timezone: String,
    pub venue_json: Option<String>,
    pub city: Option<String>,
    pub ticket_type_name: String,
}

pub async fn by_code(db: &Db, code: &str) -> Result<Option<TicketRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TICKET_COLUMNS} FROM tickets WHERE code = $1"
    )))
    .bind(code.to_string())
    .fetch_optional(&db.pool)
    .await
}

/// The ticket's event and ticket type.
pub async fn extra(db: &Db, ticket: &TicketRow) -> Result<Extra, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.title_json, e.starts_at, e.timezone, e.venue_json, e.city, t.name AS ticket_type_name \
         FROM events e JOIN ticket_types t ON t.event_id = e.id WHERE e.id = $1 AND t.id = $2",
    )
    .bind(ticket.event_id.clone())
    .bind(ticket.ticket_type_id.clone())
    .fetch_one(&db.pool)
    .await
}

/// A seat's row, number and section name.
pub async fn seat(db: &Db, seat_id: &str) -> Result<Option<(String, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.row_label, s.seat_number, c.name FROM seats s JOIN sections c ON c.id = s.section_id \
         WHERE s.id = $1",
    )
    .bind(seat_id.to_string())
    .fetch_optional(&db.pool)
    .await
}
