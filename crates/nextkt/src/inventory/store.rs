//! The SQL of holds and seat claims, the batched GA path's statements, and the auditor's
//! queries. The rules that use them are in `holds`, `seats`, `convert`, `reserve` and
//! `jobs`; pools and carts keep their SQL in `pools` and `carts`.

use std::collections::HashMap;

use super::reserve::GaRequest;
use super::status::HoldStatus;
use crate::ids::{BuyerId, TicketTypeId};
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Dialect, Tx, placeholder_list, placeholder_rows};

// ---- holds ----------------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HoldRow {
    pub id: String,
    pub cart_id: String,
    pub event_id: String,
    pub ticket_type_id: String,
    pub seat_id: Option<String>,
    pub quantity: i64,
    #[sqlx(try_from = "String")]
    pub status: HoldStatus,
    pub expires_at: i64,
}

const HOLD_COLUMNS: &str =
    "id, cart_id, event_id, ticket_type_id, seat_id, quantity, status, expires_at";

/// A cart's live holds (active and not past their expiry).
pub async fn live_holds_of_cart(
    db: &Db,
    cart_id: &str,
    now: Millis,
) -> Result<Vec<HoldRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {HOLD_COLUMNS} FROM holds WHERE cart_id = $1 AND status = 'active' AND expires_at > $2 \
         ORDER BY id"
    )))
    .bind(cart_id.to_string())
    .bind(now)
    .fetch_all(&db.pool)
    .await
}

/// One hold of the cart, whatever its status.
pub async fn hold_in_cart(
    db: &Db,
    cart_id: &str,
    hold_id: &str,
) -> Result<Option<HoldRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {HOLD_COLUMNS} FROM holds WHERE id = $1 AND cart_id = $2"
    )))
    .bind(hold_id.to_string())
    .bind(cart_id.to_string())
    .fetch_optional(&db.pool)
    .await
}

/// Releases one hold of a cart if it is still active; its quantity when it was.
pub async fn release_hold(
    tx: &mut Tx,
    cart_id: &str,
    hold_id: &str,
    now: Millis,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE holds SET status = 'released', updated_at = $1 WHERE id = $2 AND cart_id = $3 \
         AND status = 'active' RETURNING quantity",
    )
    .bind(now)
    .bind(hold_id.to_string())
    .bind(cart_id.to_string())
    .fetch_optional(&mut **tx)
    .await
}

/// A live hold's quantity, locked for the rest of the transaction.
pub async fn lock_live_quantity(
    db: &Db,
    tx: &mut Tx,
    hold_id: &str,
    now: Millis,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT quantity FROM holds WHERE id = $1 AND status = 'active' AND expires_at > $2{}",
        db.for_update()
    )))
    .bind(hold_id.to_string())
    .bind(now)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn set_quantity(
    tx: &mut Tx,
    hold_id: &str,
    quantity: i64,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE holds SET quantity = $1, updated_at = $2 WHERE id = $3")
        .bind(quantity)
        .bind(now)
        .bind(hold_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Moves the expiry of a cart's live holds `extra` ms later; how many moved.
pub async fn extend_cart_holds(
    tx: &mut Tx,
    cart_id: &str,
    extra: i64,
    now: Millis,
) -> Result<u64, sqlx::Error> {
    let holds = sqlx::query(
        "UPDATE holds SET expires_at = expires_at + $1, updated_at = $2 \
         WHERE cart_id = $3 AND status = 'active' AND expires_at > $2",
    )
    .bind(extra)
    .bind(now)
    .bind(cart_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(holds.rows_affected())
}

/// The GA pools an order holds units of.
pub async fn order_pools(tx: &mut Tx, order_id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT ticket_type_id FROM holds WHERE order_id = $1 AND status = 'active' AND seat_id IS NULL \
         ORDER BY ticket_type_id",
    )
    .bind(order_id.to_string())
    .fetch_all(&mut **tx)
    .await
}

/// Releases an order's active GA holds of one pool; their quantities.
pub async fn release_order_pool(
    tx: &mut Tx,
    order_id: &str,
    pool: &str,
    now: Millis,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE holds SET status = 'released', updated_at = $1 WHERE order_id = $2 AND ticket_type_id = $3 \
         AND seat_id IS NULL AND status = 'active' RETURNING quantity",
    )
    .bind(now)
    .bind(order_id.to_string())
    .bind(pool.to_string())
    .fetch_all(&mut **tx)
    .await
}

/// Releases every active hold of an order.
pub async fn release_order_holds(
    tx: &mut Tx,
    order_id: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE holds SET status = 'released', updated_at = $1 WHERE order_id = $2 AND status = 'active'")
        .bind(now)
        .bind(order_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Ties the cart's live holds to an order.
pub async fn attach_to_order(
    tx: &mut Tx,
    cart_id: &str,
    order_id: &str,
    now: Millis,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE holds SET order_id = $1, updated_at = $2 WHERE cart_id = $3 AND status = 'active' \
         AND expires_at > $2",
    )
    .bind(order_id.to_string())
    .bind(now)
    .bind(cart_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// A hold of an order, as converting it needs.
#[derive(sqlx::FromRow)]
pub struct OrderHold {
    pub id: String,
    pub ticket_type_id: String,
    pub seat_id: Option<String>,
    pub quantity: i64,
    #[sqlx(try_from = "String")]
    pub status: HoldStatus,
    pub expires_at: i64,
}

/// An order's holds that can still become tickets: live, expired, or released by an
/// operator.
pub async fn convertible_of_order(
    tx: &mut Tx,
    order_id: &str,
) -> Result<Vec<OrderHold>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, ticket_type_id, seat_id, quantity, status, expires_at FROM holds \
         WHERE order_id = $1 AND status IN ('active', 'expired', 'released') ORDER BY id",
    )
    .bind(order_id.to_string())
    .fetch_all(&mut **tx)
    .await
}

/// Marks an order's convertible holds converted.
pub async fn convert_order_holds(
    tx: &mut Tx,
    order_id: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE holds SET status = 'converted', updated_at = $1 WHERE order_id = $2 AND status IN ('active', 'expired', 'released')")
        .bind(now)
        .bind(order_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Live quantities of a cart per ticket type.
pub async fn cart_lines(
    tx: &mut Tx,
    cart_id: &str,
    now: Millis,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT ticket_type_id, CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM holds WHERE cart_id = $1 \
         AND status = 'active' AND expires_at > $2 GROUP BY ticket_type_id",
    )
    .bind(cart_id.to_string())
    .bind(now)
    .fetch_all(&mut **tx)
    .await
}

/// GA pools with active holds past their expiry (at most 200).
pub async fn pools_with_expired(db: &Db, now: Millis) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT ticket_type_id FROM holds WHERE status = 'active' AND seat_id IS NULL \
         AND expires_at <= $1 LIMIT 200",
    )
    .bind(now)
    .fetch_all(&db.pool)
    .await
}

/// Marks every seat hold past its expiry expired; how many.
pub async fn expire_seat_holds(tx: &mut Tx, now: Millis) -> Result<u64, sqlx::Error> {
    let seats = sqlx::query(
        "UPDATE holds SET status = 'expired', updated_at = $1 WHERE status = 'active' \
         AND seat_id IS NOT NULL AND expires_at <= $1",
    )
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(seats.rows_affected())
}

/// Marks the holds of these seats that are past their expiry expired.
pub async fn expire_holds_of_seats(
    db: &Db,
    tx: &mut Tx,
    seat_ids: &[String],
    now: Millis,
) -> Result<(), sqlx::Error> {
    let ids = placeholder_list(2, seat_ids.len());
    let mut q = sqlx::query(db.sql(format!(
        "UPDATE holds SET status = 'expired', updated_at = $1 WHERE status = 'active' AND expires_at <= $1 \
         AND seat_id IN ({ids})"
    )))
    .persistent(false)
    .bind(now);
    for id in seat_ids {
        q = q.bind(id.clone());
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// A new hold of one seat.
pub struct NewSeatHold<'a> {
    pub id: &'a str,
    pub org_id: &'a str,
    pub event_id: &'a str,
    pub cart_id: &'a str,
    pub buyer_id: Option<&'a str>,
    pub ticket_type_id: &'a str,
    pub seat_id: &'a str,
    pub expires_at: Millis,
}

pub async fn insert_seat_hold(
    tx: &mut Tx,
    hold: &NewSeatHold<'_>,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO holds (id, organization_id, event_id, cart_id, buyer_id, ticket_type_id, seat_id, \
         quantity, status, expires_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, 'active', $8, $9, $9)",
    )
    .bind(hold.id.to_string())
    .bind(hold.org_id.to_string())
    .bind(hold.event_id.to_string())
    .bind(hold.cart_id.to_string())
    .bind(hold.buyer_id.map(str::to_string))
    .bind(hold.ticket_type_id.to_string())
    .bind(hold.seat_id.to_string())
    .bind(hold.expires_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

// ---- batched GA reservations ----------------------------------------------------------
// One call per batch, except `grow_hold` (one per granted request that grows a hold).

/// Units in a GA pool's live holds, summed from the holds (the benchmark's naive path).
pub async fn live_ga_units(
    tx: &mut Tx,
    ticket_type_id: &str,
    now: Millis,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM holds WHERE ticket_type_id = $1 \
         AND seat_id IS NULL AND status = 'active' AND expires_at > $2",
    )
    .bind(ticket_type_id.to_string())
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

/// Locks carts' rows; `ids` sorted and without duplicates.
pub async fn lock_carts(db: &Db, tx: &mut Tx, ids: &[&str]) -> Result<(), sqlx::Error> {
    let lock_sql = format!(
        "SELECT id FROM carts WHERE id IN ({}) ORDER BY id{}",
        placeholder_list(1, ids.len()),
        db.for_update()
    );
    let mut q = sqlx::query_scalar::<_, String>(db.sql(lock_sql)).persistent(false);
    for id in ids {
        q = q.bind(id.to_string());
    }
    q.fetch_all(&mut **tx).await?;
    Ok(())
}

/// Live quantities of carts per (cart, ticket type).
pub async fn live_lines_of_carts(
    db: &Db,
    tx: &mut Tx,
    ids: &[&str],
    now: Millis,
) -> Result<Vec<(String, TicketTypeId, i64)>, sqlx::Error> {
    let sql = format!(
        "SELECT cart_id, ticket_type_id, CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM holds \
         WHERE cart_id IN ({}) AND status = 'active' AND expires_at > ${} \
         GROUP BY cart_id, ticket_type_id",
        placeholder_list(1, ids.len()),
        ids.len() + 1
    );
    let mut q = sqlx::query_as::<_, (String, TicketTypeId, i64)>(db.sql(sql)).persistent(false);
    for id in ids {
        q = q.bind(id.to_string());
    }
    q.bind(now).fetch_all(&mut **tx).await
}

/// Grows a live GA hold of the cart by `quantity`; its new quantity and expiry, or `None`
/// when the hold is no longer live.
pub async fn grow_hold(
    tx: &mut Tx,
    hold_id: &str,
    cart_id: &str,
    ticket_type_id: &str,
    quantity: i64,
    now: Millis,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE holds SET quantity = quantity + $1, updated_at = $2 \
         WHERE id = $3 AND cart_id = $4 AND ticket_type_id = $5 \
         AND status = 'active' AND expires_at > $2 RETURNING quantity, expires_at",
    )
    .bind(quantity)
    .bind(now)
    .bind(hold_id.to_string())
    .bind(cart_id.to_string())
    .bind(ticket_type_id.to_string())
    .fetch_optional(&mut **tx)
    .await
}

/// Inserts new GA holds, many rows per statement.
pub async fn insert_holds(
    tx: &mut Tx,
    holds: &[(&GaRequest, &str)],
    expires_at: Millis,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO holds (id, organization_id, event_id, cart_id, buyer_id, ticket_type_id, \
         seat_id, quantity, status, expires_at, created_at, updated_at) VALUES {}",
        placeholder_rows(holds.len(), 12)
    );
    let mut q = sqlx::query(Dialect::of(tx).sql(sql)).persistent(false);
    for (req, id) in holds {
        q = q
            .bind(id.to_string())
            .bind(req.org_id.clone())
            .bind(req.event_id.clone())
            .bind(req.cart.id().to_string())
            .bind(req.buyer_id.clone())
            .bind(req.ticket_type_id.clone())
            .bind(None::<String>)
            .bind(req.quantity)
            .bind(HoldStatus::Active.as_str())
            .bind(expires_at)
            .bind(now)
            .bind(now);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// What each buyer has of an event: live holds (in carts, or in orders waiting for payment)
/// and tickets not voided (a refunded ticket no longer counts; a transferred one still
/// counts for the buyer who bought it). The buyers' rows are locked (in id order, after
/// any carts) so two requests of one buyer for different ticket types take turns.
/// `buyers` must be sorted and without duplicates.
pub async fn buyer_totals_locked(
    db: &Db,
    tx: &mut Tx,
    event_id: &str,
    buyers: &[&str],
    now: Millis,
) -> Result<HashMap<BuyerId, i64>, sqlx::Error> {
    let lock_sql = format!(
        "SELECT id FROM buyers WHERE id IN ({}) ORDER BY id{}",
        placeholder_list(1, buyers.len()),
        db.for_update()
    );
    let mut q = sqlx::query_scalar::<_, String>(db.sql(lock_sql)).persistent(false);
    for b in buyers {
        q = q.bind(b.to_string());
    }
    q.fetch_all(&mut **tx).await?;
    let list = placeholder_list(2, buyers.len());
    let now_at = buyers.len() + 2;
    let sql = format!(
        "SELECT buyer_id, CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM ( \
           SELECT buyer_id, quantity AS n FROM holds WHERE event_id = $1 AND buyer_id IN ({list}) \
             AND status = 'active' AND expires_at > ${now_at} \
           UNION ALL \
           SELECT o.buyer_id, 1 AS n FROM orders o JOIN tickets t ON t.order_id = o.id \
             WHERE o.event_id = $1 AND o.buyer_id IN ({list}) AND t.status <> 'void' \
         ) owned GROUP BY buyer_id"
    );
    let mut q = sqlx::query_as::<_, (BuyerId, i64)>(db.sql(sql))
        .persistent(false)
        .bind(event_id.to_string());
    for b in buyers {
        q = q.bind(b.to_string());
    }
    Ok(q.bind(now)
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .collect())
}

// ---- seat claims -----------------------------------------------------------------------

/// Deletes a seat hold's claim.
pub async fn delete_hold_claim(
    tx: &mut Tx,
    seat_id: &str,
    hold_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM seat_claims WHERE seat_id = $1 AND hold_id = $2")
        .bind(seat_id.to_string())
        .bind(hold_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Moves the expiry of the claims of a cart's active seat holds `extra` ms later.
pub async fn extend_cart_claims(
    tx: &mut Tx,
    cart_id: &str,
    extra: i64,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE seat_claims SET expires_at = expires_at + $1 WHERE kind = 'hold' AND expires_at > $2 \
         AND hold_id IN (SELECT id FROM holds WHERE cart_id = $3 AND status = 'active')",
    )
    .bind(extra)
    .bind(now)
    .bind(cart_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes the claims of an order's active seat holds.
pub async fn delete_order_claims(tx: &mut Tx, order_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM seat_claims WHERE kind = 'hold' AND hold_id IN \
         (SELECT id FROM holds WHERE order_id = $1 AND seat_id IS NOT NULL AND status = 'active')",
    )
    .bind(order_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes every hold claim past its expiry.
pub async fn delete_expired_claims(tx: &mut Tx, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM seat_claims WHERE kind = 'hold' AND expires_at <= $1")
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Deletes the hold claims of these seats that are past their expiry.
pub async fn delete_expired_claims_of_seats(
    db: &Db,
    tx: &mut Tx,
    seat_ids: &[String],
    now: Millis,
) -> Result<(), sqlx::Error> {
    let ids = placeholder_list(2, seat_ids.len());
    let mut q = sqlx::query(db.sql(format!(
        "DELETE FROM seat_claims WHERE kind = 'hold' AND expires_at <= $1 AND seat_id IN ({ids})"
    )))
    .persistent(false)
    .bind(now);
    for id in seat_ids {
        q = q.bind(id.clone());
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Which of these seats have a claim.
pub async fn claimed_seats(
    db: &Db,
    tx: &mut Tx,
    seat_ids: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    let mut q = sqlx::query_scalar::<_, String>(db.sql(format!(
        "SELECT seat_id FROM seat_claims WHERE seat_id IN ({})",
        placeholder_list(1, seat_ids.len())
    )))
    .persistent(false);
    for id in seat_ids {
        q = q.bind(id.clone());
    }
    q.fetch_all(&mut **tx).await
}

/// Claims a seat for a hold; fails with a unique violation when the seat is claimed.
pub async fn insert_hold_claim(
    tx: &mut Tx,
    hold: &NewSeatHold<'_>,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO seat_claims (seat_id, organization_id, event_id, hold_id, kind, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, 'hold', $5, $6)",
    )
    .bind(hold.seat_id.to_string())
    .bind(hold.org_id.to_string())
    .bind(hold.event_id.to_string())
    .bind(hold.id.to_string())
    .bind(hold.expires_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes a seat's hold claim past its expiry.
pub async fn delete_expired_claim(
    tx: &mut Tx,
    seat_id: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM seat_claims WHERE seat_id = $1 AND kind = 'hold' AND expires_at <= $2",
    )
    .bind(seat_id.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// How many claims a seat has (0 or 1).
pub async fn claims_of_seat(tx: &mut Tx, seat_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM seat_claims WHERE seat_id = $1")
        .bind(seat_id.to_string())
        .fetch_one(&mut **tx)
        .await
}

/// Makes a live seat hold's claim a ticket's.
pub async fn claim_to_ticket(tx: &mut Tx, seat_id: &str, hold_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE seat_claims SET kind = 'ticket', expires_at = NULL WHERE seat_id = $1 AND hold_id = $2")
        .bind(seat_id.to_string())
        .bind(hold_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Claims a lapsed seat hold's seat for its ticket again.
pub async fn insert_ticket_claim(
    tx: &mut Tx,
    hold_id: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO seat_claims (seat_id, organization_id, event_id, hold_id, kind, expires_at, created_at) \
         SELECT seat_id, organization_id, event_id, id, 'ticket', NULL, $1 FROM holds WHERE id = $2",
    )
    .bind(now)
    .bind(hold_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Frees a sold seat.
pub async fn delete_ticket_claim(tx: &mut Tx, seat_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM seat_claims WHERE seat_id = $1 AND kind = 'ticket'")
        .bind(seat_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

// ---- the auditor's queries -------------------------------------------------------------

/// A pool's counters beside what its holds and tickets say.
#[derive(sqlx::FromRow)]
pub struct PoolAudit {
    pub ticket_type_id: String,
    pub capacity: i64,
    pub held: i64,
    pub sold: i64,
    pub active_held: i64,
    pub live_held: i64,
    pub issued: i64,
}

pub async fn pool_audits(
    db: &Db,
    org_id: Option<&str>,
    now: Millis,
) -> Result<Vec<PoolAudit>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.ticket_type_id, p.capacity, p.held, p.sold, \
           (SELECT CAST(COALESCE(SUM(h.quantity), 0) AS BIGINT) FROM holds h WHERE h.ticket_type_id = p.ticket_type_id \
              AND h.seat_id IS NULL AND h.status = 'active') AS active_held, \
           (SELECT CAST(COALESCE(SUM(h.quantity), 0) AS BIGINT) FROM holds h WHERE h.ticket_type_id = p.ticket_type_id \
              AND h.seat_id IS NULL AND h.status = 'active' AND h.expires_at > $1) AS live_held, \
           (SELECT COUNT(*) FROM tickets t WHERE t.ticket_type_id = p.ticket_type_id \
              AND t.seat_id IS NULL AND t.inventory_released_at IS NULL) AS issued \
         FROM inventory_pools p WHERE ($2 = '' OR p.organization_id = $2)",
    )
    .bind(now)
    .bind(org_id.unwrap_or_default().to_string())
    .fetch_all(&db.pool)
    .await
}

/// Seats with more than one live claim: live holds plus valid tickets.
pub async fn doubly_claimed_seats(
    db: &Db,
    org_id: Option<&str>,
    now: Millis,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT seat_id FROM ( \
           SELECT seat_id, organization_id FROM holds WHERE seat_id IS NOT NULL AND status = 'active' AND expires_at > $1 \
           UNION ALL SELECT seat_id, organization_id FROM tickets WHERE seat_id IS NOT NULL AND status = 'valid') c \
         WHERE ($2 = '' OR organization_id = $2) GROUP BY seat_id HAVING COUNT(*) > 1) d",
    )
    .bind(now)
    .bind(org_id.unwrap_or_default().to_string())
    .fetch_one(&db.pool)
    .await
}

/// Live seat hold claims that match no live seat hold.
pub async fn orphan_claims(db: &Db, org_id: Option<&str>, now: Millis) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM seat_claims c WHERE c.kind = 'hold' AND c.expires_at > $1 \
         AND ($2 = '' OR c.organization_id = $2) AND NOT EXISTS (SELECT 1 FROM holds h \
         WHERE h.id = c.hold_id AND h.seat_id = c.seat_id AND h.status = 'active')",
    )
    .bind(now)
    .bind(org_id.unwrap_or_default().to_string())
    .fetch_one(&db.pool)
    .await
}

pub async fn seat_count(db: &Db, org_id: Option<&str>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM seats WHERE ($1 = '' OR organization_id = $1)")
        .bind(org_id.unwrap_or_default().to_string())
        .fetch_one(&db.pool)
        .await
}
