//! The SQL of discount codes: the rows, the events and ticket types they name, and their
//! use counts.

use super::{COLUMNS, DiscountRow, code_key};
use crate::platform::db::{Db, Tx, placeholder_list};

pub async fn find_by_code(
    db: &Db,
    org_id: &str,
    code: &str,
) -> Result<Option<DiscountRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM discounts WHERE organization_id = $1 AND code_key = $2"
    )))
    .bind(org_id.to_string())
    .bind(code_key(code))
    .fetch_optional(&db.pool)
    .await
}

pub async fn find(db: &Db, org_id: &str, id: &str) -> Result<Option<DiscountRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM discounts WHERE organization_id = $1 AND id = $2"
    )))
    .bind(org_id.to_string())
    .bind(id.to_string())
    .fetch_optional(&db.pool)
    .await
}

/// Writes a new code (`uses` 0). A code already taken fails with a unique violation.
pub async fn insert(tx: &mut Tx, row: &DiscountRow, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO discounts (id, organization_id, code, code_key, kind, value, currency, \
         event_ids_json, ticket_type_ids_json, starts_at, ends_at, max_uses, max_uses_per_buyer, \
         min_quantity, uses, created_at, updated_at, disabled_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0, $15, $15, $16)",
    )
    .bind(row.id.clone())
    .bind(row.organization_id.clone())
    .bind(row.code.clone())
    .bind(code_key(&row.code))
    .bind(row.kind.clone())
    .bind(row.value)
    .bind(row.currency.clone())
    .bind(row.event_ids_json.clone())
    .bind(row.ticket_type_ids_json.clone())
    .bind(row.starts_at)
    .bind(row.ends_at)
    .bind(row.max_uses)
    .bind(row.max_uses_per_buyer)
    .bind(row.min_quantity)
    .bind(now)
    .bind(row.disabled_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes a code's changeable fields.
pub async fn update(tx: &mut Tx, row: &DiscountRow, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE discounts SET kind = $1, value = $2, currency = $3, event_ids_json = $4, \
         ticket_type_ids_json = $5, starts_at = $6, ends_at = $7, max_uses = $8, \
         max_uses_per_buyer = $9, min_quantity = $10, disabled_at = $11, updated_at = $12 \
         WHERE id = $13 AND organization_id = $14",
    )
    .bind(row.kind.clone())
    .bind(row.value)
    .bind(row.currency.clone())
    .bind(row.event_ids_json.clone())
    .bind(row.ticket_type_ids_json.clone())
    .bind(row.starts_at)
    .bind(row.ends_at)
    .bind(row.max_uses)
    .bind(row.max_uses_per_buyer)
    .bind(row.min_quantity)
    .bind(row.disabled_at)
    .bind(now)
    .bind(row.id.clone())
    .bind(row.organization_id.clone())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An organization's codes, newest first, below `before` (the page cursor; empty for the
/// first page).
pub async fn of_org(
    db: &Db,
    org_id: &str,
    before: &str,
    limit: i64,
) -> Result<Vec<DiscountRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM discounts WHERE organization_id = $1 AND ($2 = '' OR id < $2) \
         ORDER BY id DESC LIMIT $3"
    )))
    .bind(org_id.to_string())
    .bind(before.to_string())
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}

/// Which of `ids` are events of the organization.
pub async fn events_of_org(
    db: &Db,
    org_id: &str,
    ids: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    let mut query = sqlx::query_scalar::<_, String>(db.sql(format!(
        "SELECT id FROM events WHERE organization_id = $1 AND id IN ({})",
        placeholder_list(2, ids.len())
    )))
    .persistent(false)
    .bind(org_id.to_string());
    for id in ids {
        query = query.bind(id.clone());
    }
    query.fetch_all(&db.pool).await
}

/// Which of `ids` are ticket types of the organization, each with its event.
pub async fn ticket_types_of_org(
    db: &Db,
    org_id: &str,
    ids: &[String],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let mut query = sqlx::query_as::<_, (String, String)>(db.sql(format!(
        "SELECT id, event_id FROM ticket_types WHERE organization_id = $1 AND id IN ({})",
        placeholder_list(2, ids.len())
    )))
    .persistent(false)
    .bind(org_id.to_string());
    for id in ids {
        query = query.bind(id.clone());
    }
    query.fetch_all(&db.pool).await
}

/// The code's per-buyer limit, and how many of the buyer's live orders (other than
/// `order_id`) used it.
pub async fn buyer_uses(
    tx: &mut Tx,
    discount_id: &str,
    buyer_id: &str,
    order_id: &str,
) -> Result<(Option<i64>, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT d.max_uses_per_buyer, (SELECT COUNT(*) FROM orders o WHERE o.discount_id = d.id \
         AND o.buyer_id = $2 AND o.status IN ('pending_payment', 'paid') AND o.id <> $3) \
         FROM discounts d WHERE d.id = $1",
    )
    .bind(discount_id.to_string())
    .bind(buyer_id.to_string())
    .bind(order_id.to_string())
    .fetch_one(&mut **tx)
    .await
}

/// Counts one use if one is left; true when it was counted. Conditional, so concurrent
/// claims of the last use yield exactly one winner.
pub async fn claim_use(tx: &mut Tx, discount_id: &str) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query(
        "UPDATE discounts SET uses = uses + 1 WHERE id = $1 AND (max_uses IS NULL OR uses < max_uses)",
    )
    .bind(discount_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

/// Counts one use, whatever the limit.
pub async fn add_use(tx: &mut Tx, discount_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE discounts SET uses = uses + 1 WHERE id = $1")
        .bind(discount_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Gives one use back.
pub async fn release_use(tx: &mut Tx, discount_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE discounts SET uses = uses - 1 WHERE id = $1 AND uses > 0")
        .bind(discount_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The code's uses and limit, locked for the rest of the transaction.
pub async fn uses_locked(
    db: &Db,
    tx: &mut Tx,
    discount_id: &str,
) -> Result<(i64, Option<i64>), sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT uses, max_uses FROM discounts WHERE id = $1{}",
        db.for_update()
    )))
    .bind(discount_id.to_string())
    .fetch_one(&mut **tx)
    .await
}
