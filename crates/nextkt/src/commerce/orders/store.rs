//! The SQL of orders: the one insert, status changes, and the reads checkout, settling,
//! expiry and the views need.

use super::{OrderLine, OrderRow, OrderStatus};
use crate::catalog::events::{EVENT_COLUMNS, EventRow};
use crate::commerce::pricing::Quote;
use crate::payments::{self, PaymentRow};
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};
use crate::platform::ids::new_id;
use crate::tickets::{self, TicketRow};

pub const ORDER_COLUMNS: &str = "id, organization_id, event_id, cart_id, buyer_id, email, name, locale, \
    status, currency, subtotal, discount, discount_id, points_used, points_value, tax, fee, fee_absorbed, \
    total, fee_payer, payment_deadline, created_at, paid_at, livemode";

/// An order as it is first written, with the lines it was priced with.
pub struct NewOrder<'a> {
    pub id: &'a str,
    pub org_id: &'a str,
    pub event_id: &'a str,
    pub cart_id: &'a str,
    pub buyer_id: Option<&'a str>,
    pub email: &'a str,
    pub name: &'a str,
    pub locale: &'a str,
    /// An `OrderStatus` as stored (`OrderStatus::as_str`).
    pub status: &'a str,
    /// `sale` or `complimentary` (`OrderKind::as_str`).
    pub kind: &'a str,
    pub currency: &'a str,
    pub pricing: &'a Quote,
    /// The ticket type (id, name) of each pricing line, in order.
    pub line_types: &'a [(String, String)],
    pub discount_id: Option<&'a str>,
    pub fee_payer: &'a str,
    pub payment_deadline: Millis,
    pub paid_at: Option<Millis>,
    pub livemode: bool,
}

/// Writes a new order and its lines: the one place orders are made. A second order for
/// the same cart fails with a unique violation.
pub async fn insert(tx: &mut Tx, order: &NewOrder<'_>, now: Millis) -> Result<(), sqlx::Error> {
    debug_assert!(
        order.status.parse::<OrderStatus>().is_ok(),
        "{}",
        order.status
    );
    let quote = order.pricing;
    sqlx::query(
        "INSERT INTO orders (id, organization_id, event_id, cart_id, buyer_id, email, name, locale, status, \
         currency, subtotal, discount, discount_id, points_used, points_value, tax, fee, fee_absorbed, total, \
         fee_payer, payment_deadline, created_at, updated_at, paid_at, livemode, kind) VALUES ($1, $2, $3, $4, \
         $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $22, $23, $24, $25)",
    )
    .bind(order.id.to_string())
    .bind(order.org_id.to_string())
    .bind(order.event_id.to_string())
    .bind(order.cart_id.to_string())
    .bind(order.buyer_id.map(str::to_string))
    .bind(order.email.to_string())
    .bind(order.name.to_string())
    .bind(order.locale.to_string())
    .bind(order.status.to_string())
    .bind(order.currency.to_string())
    .bind(quote.subtotal)
    .bind(quote.discount)
    .bind(order.discount_id.map(str::to_string))
    .bind(quote.points_used)
    .bind(quote.points_value)
    .bind(quote.tax)
    .bind(quote.fee)
    .bind(quote.fee_absorbed)
    .bind(quote.total)
    .bind(order.fee_payer.to_string())
    .bind(order.payment_deadline)
    .bind(now)
    .bind(order.paid_at)
    .bind(i64::from(order.livemode))
    .bind(order.kind.to_string())
    .execute(&mut **tx)
    .await?;
    for (line, (tt_id, name)) in quote.lines.iter().zip(order.line_types) {
        sqlx::query(
            "INSERT INTO order_lines (id, order_id, ticket_type_id, name, quantity, unit_price, discount, \
             points_value, tax, fee_per_ticket, fee, total) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(new_id())
        .bind(order.id.to_string())
        .bind(tt_id.clone())
        .bind(name.clone())
        .bind(line.quantity)
        .bind(line.unit_price)
        .bind(line.discount)
        .bind(line.points_value)
        .bind(line.tax)
        .bind(line.fee_per_ticket)
        .bind(line.fee)
        .bind(line.total)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// One of an organization's orders.
pub async fn find(db: &Db, org_id: &str, order_id: &str) -> Result<Option<OrderRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1 AND organization_id = $2"
    )))
    .bind(order_id.to_string())
    .bind(org_id.to_string())
    .fetch_optional(&db.pool)
    .await
}

/// An order, locked for the rest of the transaction.
pub async fn lock(db: &Db, tx: &mut Tx, order_id: &str) -> Result<Option<OrderRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1{}",
        db.for_update()
    )))
    .bind(order_id.to_string())
    .fetch_optional(&mut **tx)
    .await
}

/// The order made from a cart.
pub async fn of_cart(
    db: &Db,
    org_id: &str,
    cart_id: &str,
) -> Result<Option<OrderRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE cart_id = $1 AND organization_id = $2"
    )))
    .bind(cart_id.to_string())
    .bind(org_id.to_string())
    .fetch_optional(&db.pool)
    .await
}

/// A buyer's orders, newest first, below `before` (the page cursor; empty for the first).
pub async fn of_buyer(
    db: &Db,
    org_id: &str,
    buyer_id: &str,
    before: &str,
    limit: i64,
) -> Result<Vec<OrderRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE organization_id = $1 AND buyer_id = $2 \
         AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4"
    )))
    .bind(org_id.to_string())
    .bind(buyer_id.to_string())
    .bind(before.to_string())
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}

/// Which of an organization's orders to list; empty strings match any.
pub struct Filter<'a> {
    /// Only orders with an id below this (the page cursor).
    pub before: &'a str,
    /// Already lower-cased.
    pub email: &'a str,
    pub status: &'a str,
    pub event_id: &'a str,
    pub limit: i64,
}

/// An organization's orders, newest first.
pub async fn of_org(
    db: &Db,
    org_id: &str,
    filter: Filter<'_>,
) -> Result<Vec<OrderRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE organization_id = $1 AND ($2 = '' OR id < $2) \
         AND ($3 = '' OR email = $3) AND ($4 = '' OR status = $4) AND ($5 = '' OR event_id = $5) \
         ORDER BY id DESC LIMIT $6"
    )))
    .bind(org_id.to_string())
    .bind(filter.before.to_string())
    .bind(filter.email.to_string())
    .bind(filter.status.to_string())
    .bind(filter.event_id.to_string())
    .bind(filter.limit)
    .fetch_all(&db.pool)
    .await
}

/// An order's lines, as priced.
pub async fn lines(db: &Db, order_id: &str) -> Result<Vec<OrderLine>, sqlx::Error> {
    sqlx::query_as(
        "SELECT ticket_type_id, name, quantity, unit_price, discount, points_value, tax, fee_per_ticket, fee, total \
         FROM order_lines WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id.to_string())
    .fetch_all(&db.pool)
    .await
}

/// The tickets an order's lines add up to.
pub async fn units(tx: &mut Tx, order_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM order_lines WHERE order_id = $1",
    )
    .bind(order_id.to_string())
    .fetch_one(&mut **tx)
    .await
}

pub async fn set_paid(tx: &mut Tx, order_id: &str, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE orders SET status = 'paid', paid_at = $1, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(order_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_status(
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

/// Unpaid orders past their deadline, soonest first (a batch of 100).
pub async fn due_for_expiry(db: &Db, now: Millis) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM orders WHERE status = 'pending_payment' AND payment_deadline <= $1 ORDER BY payment_deadline LIMIT 100",
    )
    .bind(now)
    .fetch_all(&db.pool)
    .await
}

/// The order's captured payments.
pub async fn paid_payments(tx: &mut Tx, order_id: &str) -> Result<Vec<PaymentRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM payments WHERE order_id = $1 AND status = 'paid'",
        payments::PAYMENT_COLUMNS
    )))
    .bind(order_id.to_string())
    .fetch_all(&mut **tx)
    .await
}

/// How many of the order's payments were captured.
pub async fn paid_payment_count(tx: &mut Tx, order_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM payments WHERE order_id = $1 AND status = 'paid'")
        .bind(order_id.to_string())
        .fetch_one(&mut **tx)
        .await
}

/// The order's payments still open at `provider`.
pub async fn pending_payments(
    db: &Db,
    order_id: &str,
    provider: &str,
) -> Result<Vec<PaymentRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM payments WHERE order_id = $1 AND status = 'pending' AND provider = $2",
        payments::PAYMENT_COLUMNS
    )))
    .bind(order_id.to_string())
    .bind(provider.to_string())
    .fetch_all(&db.pool)
    .await
}

/// The order's event, read inside the transaction that settles it.
pub async fn event(tx: &mut Tx, event_id: &str) -> Result<EventRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE id = $1"
    )))
    .bind(event_id.to_string())
    .fetch_one(&mut **tx)
    .await
}

/// A logged-in buyer's email and name.
pub async fn buyer_contact(db: &Db, buyer_id: &str) -> Result<(String, String), sqlx::Error> {
    sqlx::query_as("SELECT email, name FROM buyers WHERE id = $1")
        .bind(buyer_id.to_string())
        .fetch_one(&db.pool)
        .await
}

/// A buyer's tickets, newest first, below `before` (the page cursor; empty for the first).
pub async fn tickets_of_buyer(
    db: &Db,
    org_id: &str,
    buyer_id: &str,
    before: &str,
    limit: i64,
) -> Result<Vec<TicketRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM tickets t WHERE t.order_id IN (SELECT id FROM orders WHERE buyer_id = $1 \
         AND organization_id = $2) AND ($3 = '' OR t.id < $3) ORDER BY t.id DESC LIMIT $4",
        tickets::ticket_columns_of("t")
    )))
    .bind(buyer_id.to_string())
    .bind(org_id.to_string())
    .bind(before.to_string())
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}
