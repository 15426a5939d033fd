//! The SQL of refunds: what an order sold and was paid, what has been given back, the
//! refund rows as the API shows them.

use super::Refund;
use crate::commerce::orders::{OrderLine, OrderStatus};
use crate::commerce::pricing::allocate;
use crate::platform::clock::{Millis, rfc3339};
use crate::platform::db::{Db, Tx};

/// A ticket of the order still valid, with what a refund must give back to inventory.
#[derive(sqlx::FromRow)]
pub struct SoldTicket {
    pub id: String,
    pub ticket_type_id: String,
    pub seat_id: Option<String>,
}

/// What each of an order's tickets cost: each line's total spread over its tickets exactly.
pub async fn ticket_prices(tx: &mut Tx, order_id: &str) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let lines: Vec<OrderLine> = sqlx::query_as(
        "SELECT ticket_type_id, name, quantity, unit_price, discount, points_value, tax, fee_per_ticket, fee, total \
         FROM order_lines WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id.to_string())
    .fetch_all(&mut **tx)
    .await?;
    let mut prices = Vec::new();
    for line in lines {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM tickets WHERE order_id = $1 AND ticket_type_id = $2 ORDER BY id",
        )
        .bind(order_id.to_string())
        .bind(line.ticket_type_id.clone())
        .fetch_all(&mut **tx)
        .await?;
        let shares = allocate(line.total, &vec![1; ids.len()]);
        prices.extend(ids.into_iter().zip(shares));
    }
    Ok(prices)
}

/// The order's tickets that are still valid.
pub async fn valid_tickets(tx: &mut Tx, order_id: &str) -> Result<Vec<SoldTicket>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, ticket_type_id, seat_id FROM tickets WHERE order_id = $1 AND status = 'valid' ORDER BY id",
    )
    .bind(order_id.to_string())
    .fetch_all(&mut **tx)
    .await
}

/// What has been given back of an order, or is on its way (failed refunds excluded).
pub async fn refunded_amount(tx: &mut Tx, order_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM refunds WHERE order_id = $1 AND status <> 'failed'",
    )
    .bind(order_id.to_string())
    .fetch_one(&mut **tx)
    .await
}

/// The order's first captured payment: its id and provider.
pub async fn paid_payment(
    tx: &mut Tx,
    order_id: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, provider FROM payments WHERE order_id = $1 AND status = 'paid' ORDER BY id LIMIT 1",
    )
    .bind(order_id.to_string())
    .fetch_optional(&mut **tx)
    .await
}

/// `Refunded` or `PartiallyRefunded`.
pub async fn set_order_status(
    tx: &mut Tx,
    order_id: &str,
    status: OrderStatus,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE orders SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status.as_str().to_string())
        .bind(now)
        .bind(order_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Points the order earned its buyer.
pub async fn points_earned(tx: &mut Tx, order_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(delta), 0) AS BIGINT) FROM points_ledger WHERE reference_id = $1 AND kind = 'earn'",
    )
    .bind(order_id.to_string())
    .fetch_one(&mut **tx)
    .await
}

#[derive(sqlx::FromRow)]
struct RefundRow {
    id: String,
    order_id: String,
    amount: i64,
    currency: String,
    status: String,
    tickets_voided: i64,
    return_to_sale: i64,
    reason: Option<String>,
    created_at: i64,
    completed_at: Option<i64>,
}

const REFUND_COLUMNS: &str = "r.id, r.order_id, r.amount, r.currency, r.status, \
    (SELECT COUNT(*) FROM tickets t WHERE t.refund_id = r.id) AS tickets_voided, \
    r.return_to_sale, r.reason, r.created_at, r.completed_at";

impl RefundRow {
    fn into_api(self) -> Refund {
        Refund {
            id: self.id,
            order_id: self.order_id,
            amount: self.amount,
            currency: self.currency,
            status: self.status,
            tickets_voided: self.tickets_voided,
            return_to_sale: self.return_to_sale != 0,
            reason: self.reason,
            created_at: rfc3339(self.created_at),
            completed_at: self.completed_at.map(rfc3339),
        }
    }
}

/// An order's refunds, oldest first.
pub async fn of_order(db: &Db, order_id: &str) -> Result<Vec<Refund>, sqlx::Error> {
    let rows: Vec<RefundRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REFUND_COLUMNS} FROM refunds r WHERE r.order_id = $1 ORDER BY r.id"
    )))
    .bind(order_id.to_string())
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(RefundRow::into_api).collect())
}

/// Which of an organization's refunds to list.
pub struct Filter<'a> {
    /// Only refunds with an id below this (the page cursor); empty for the first page.
    pub before: &'a str,
    /// Empty for any.
    pub status: &'a str,
    /// Empty for any.
    pub order_id: &'a str,
    pub limit: i64,
}

/// An organization's refunds, newest first.
pub async fn of_org(db: &Db, org_id: &str, filter: Filter<'_>) -> Result<Vec<Refund>, sqlx::Error> {
    let rows: Vec<RefundRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REFUND_COLUMNS} FROM refunds r WHERE r.organization_id = $1 AND ($2 = '' OR r.id < $2) \
         AND ($3 = '' OR r.status = $3) AND ($4 = '' OR r.order_id = $4) ORDER BY r.id DESC LIMIT $5"
    )))
    .bind(org_id.to_string())
    .bind(filter.before.to_string())
    .bind(filter.status.to_string())
    .bind(filter.order_id.to_string())
    .bind(filter.limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(RefundRow::into_api).collect())
}

/// One of an organization's refunds.
pub async fn find(db: &Db, org_id: &str, refund_id: &str) -> Result<Option<Refund>, sqlx::Error> {
    let row: Option<RefundRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REFUND_COLUMNS} FROM refunds r WHERE r.id = $1 AND r.organization_id = $2"
    )))
    .bind(refund_id.to_string())
    .bind(org_id.to_string())
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(RefundRow::into_api))
}
