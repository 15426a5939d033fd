//! The SQL of `checkin_lists`.

use super::{LIST_COLUMNS, ListRow};
use crate::platform::db::{Db, Tx, placeholder_list};

pub async fn find(db: &Db, org_id: &str, list_id: &str) -> Result<Option<ListRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {LIST_COLUMNS} FROM checkin_lists WHERE id = $1 AND organization_id = $2"
    )))
    .bind(list_id.to_string())
    .bind(org_id.to_string())
    .fetch_optional(&db.pool)
    .await
}

/// Writes a new list.
pub async fn insert(tx: &mut Tx, row: &ListRow) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO checkin_lists ({LIST_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )))
    .bind(row.id.clone())
    .bind(row.organization_id.clone())
    .bind(row.event_id.clone())
    .bind(row.name.clone())
    .bind(row.ticket_type_ids_json.clone())
    .bind(row.starts_at)
    .bind(row.ends_at)
    .bind(row.allow_reentry)
    .bind(row.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A page of the event's lists, by id after `after` (`""`: from the first).
pub async fn page_of_event(
    db: &Db,
    event_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<ListRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {LIST_COLUMNS} FROM checkin_lists WHERE event_id = $1 AND ($2 = '' OR id > $2) \
         ORDER BY id LIMIT $3"
    )))
    .bind(event_id.to_string())
    .bind(after.to_string())
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}

/// Every list of the event, oldest first.
pub async fn of_event(db: &Db, event_id: &str) -> Result<Vec<ListRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM checkin_lists WHERE event_id = $1 ORDER BY created_at, id",
        LIST_COLUMNS
    )))
    .bind(event_id.to_string())
    .fetch_all(&db.pool)
    .await
}

/// The organization's lists among `ids`, by id.
pub async fn by_ids(db: &Db, org_id: &str, ids: &[String]) -> Result<Vec<ListRow>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = sqlx::query_as(db.sql(format!(
        "SELECT {LIST_COLUMNS} FROM checkin_lists WHERE organization_id = $1 AND id IN ({}) ORDER BY id",
        placeholder_list(2, ids.len())
    )))
    .persistent(false)
    .bind(org_id.to_string());
    for id in ids {
        query = query.bind(id.clone());
    }
    query.fetch_all(&db.pool).await
}
