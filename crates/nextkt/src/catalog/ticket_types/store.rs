//! The SQL of ticket types.

use super::TicketTypeRow;
use crate::ids::{EventId, OrgId, TicketTypeId};
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};
use crate::platform::error::{ApiError, ApiResult};

pub const TICKET_TYPE_COLUMNS: &str = "id, organization_id, event_id, name, kind, price, currency, \
    sale_starts_at, sale_ends_at, min_per_order, max_per_order, unlock_code, sort_order";

pub async fn find(db: &Db, org_id: &OrgId, id: &TicketTypeId) -> ApiResult<TicketTypeRow> {
    let row: Option<TicketTypeRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TICKET_TYPE_COLUMNS} FROM ticket_types WHERE id = $1 AND organization_id = $2"
    )))
    .bind(id.to_string())
    .bind(org_id.to_string())
    .fetch_optional(&db.pool)
    .await?;
    row.ok_or_else(|| ApiError::not_found("ticket type"))
}

/// A ticket type by id alone, for inventory work that checks the tenant itself.
pub async fn find_any(db: &Db, id: &str) -> Result<Option<TicketTypeRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TICKET_TYPE_COLUMNS} FROM ticket_types WHERE id = $1"
    )))
    .bind(id.to_string())
    .fetch_optional(&db.pool)
    .await
}

pub async fn of_event(db: &Db, event_id: &EventId) -> Result<Vec<TicketTypeRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TICKET_TYPE_COLUMNS} FROM ticket_types WHERE event_id = $1 ORDER BY sort_order, id"
    )))
    .bind(event_id.to_string())
    .fetch_all(&db.pool)
    .await
}

/// A page of an event's ticket types in their `sort_order` (then id): those after the
/// position (`after_order`, `after_id`; an empty id starts at the first), at most `limit`.
pub async fn page(
    db: &Db,
    event_id: &str,
    after_order: i64,
    after_id: &str,
    limit: i64,
) -> Result<Vec<TicketTypeRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TICKET_TYPE_COLUMNS} FROM ticket_types WHERE event_id = $1 \
         AND ($3 = '' OR sort_order > $2 OR (sort_order = $2 AND id > $3)) \
         ORDER BY sort_order, id LIMIT $4"
    )))
    .bind(event_id.to_string())
    .bind(after_order)
    .bind(after_id.to_string())
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}

pub async fn insert(tx: &mut Tx, row: &TicketTypeRow, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ticket_types (id, organization_id, event_id, name, kind, price, currency, \
         sale_starts_at, sale_ends_at, min_per_order, max_per_order, unlock_code, sort_order, \
         created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
    )
    .bind(row.id.clone())
    .bind(row.organization_id.clone())
    .bind(row.event_id.clone())
    .bind(row.name.clone())
    .bind(row.kind.clone())
    .bind(row.price)
    .bind(row.currency.clone())
    .bind(row.sale_starts_at)
    .bind(row.sale_ends_at)
    .bind(row.min_per_order)
    .bind(row.max_per_order)
    .bind(row.unlock_code.clone())
    .bind(row.sort_order)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes back what may change of a ticket type (its kind and currency never do).
pub async fn save(tx: &mut Tx, row: &TicketTypeRow, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE ticket_types SET name = $1, price = $2, sale_starts_at = $3, sale_ends_at = $4, \
         min_per_order = $5, max_per_order = $6, unlock_code = $7, sort_order = $8, updated_at = $9 \
         WHERE id = $10 AND organization_id = $11",
    )
    .bind(row.name.clone())
    .bind(row.price)
    .bind(row.sale_starts_at)
    .bind(row.sale_ends_at)
    .bind(row.min_per_order)
    .bind(row.max_per_order)
    .bind(row.unlock_code.clone())
    .bind(row.sort_order)
    .bind(now)
    .bind(row.id.clone())
    .bind(row.organization_id.clone())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
