//! Inventory pools: one per general-admission ticket type, holding the numbers the
//! oversell invariant is about (`held + sold <= capacity`). Every change to a pool locks its
//! row and first sweeps the pool's expired holds, so decisions never count a dead hold.

use std::collections::HashMap;

use crate::catalog::ticket_types::TicketTypeRow;
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};
use crate::platform::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Copy, Default)]
pub struct Figures {
    pub capacity: i64,
    /// Live holds only (expired ones no longer count, swept or not).
    pub held: i64,
    pub sold: i64,
}

impl Figures {
    pub fn remaining(&self) -> i64 {
        (self.capacity - self.held - self.sold).max(0)
    }
}

pub async fn create(tx: &mut Tx, ticket_type: &TicketTypeRow, capacity: i64, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO inventory_pools (ticket_type_id, organization_id, event_id, capacity, held, \
         sold, updated_at) VALUES ($1, $2, $3, $4, 0, 0, $5)",
    )
    .bind(ticket_type.id.clone())
    .bind(ticket_type.organization_id.clone())
    .bind(ticket_type.event_id.clone())
    .bind(capacity)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The pool row, locked for the rest of the transaction.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct Locked {
    pub capacity: i64,
    pub held: i64,
    pub sold: i64,
}

pub async fn lock(db: &Db, tx: &mut Tx, ticket_type_id: &str) -> Result<Option<Locked>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT capacity, held, sold FROM inventory_pools WHERE ticket_type_id = $1{}",
        db.for_update()
    )))
    .bind(ticket_type_id.to_string())
    .fetch_optional(&mut **tx)
    .await
}

/// Marks the pool's expired holds as expired and returns how many units they held. The
/// caller holds the pool lock and subtracts the result from `held`.
pub async fn expire_holds(tx: &mut Tx, ticket_type_id: &str, now: Millis) -> Result<i64, sqlx::Error> {
    let released: Vec<i64> = sqlx::query_scalar(
        "UPDATE holds SET status = 'expired', updated_at = $1 \
         WHERE ticket_type_id = $2 AND seat_id IS NULL AND status = 'active' AND expires_at <= $1 \
         RETURNING quantity",
    )
    .bind(now)
    .bind(ticket_type_id.to_string())
    .fetch_all(&mut **tx)
    .await?;
    let total: i64 = released.iter().sum();
    if total > 0 {
        metrics::counter!("nextkt_holds_expired_total").increment(released.len() as u64);
    }
    Ok(total)
}

pub async fn add_held(tx: &mut Tx, ticket_type_id: &str, delta: i64, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE inventory_pools SET held = held + $1, updated_at = $2 WHERE ticket_type_id = $3")
        .bind(delta)
        .bind(now)
        .bind(ticket_type_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Sweeps one pool's expired holds in its own transaction.
pub async fn sweep(db: &Db, ticket_type_id: &str, now: Millis) -> Result<i64, sqlx::Error> {
    let mut tx = db.begin().await?;
    if lock(db, &mut tx, ticket_type_id).await?.is_none() {
        return Ok(0);
    }
    let expired = expire_holds(&mut tx, ticket_type_id, now).await?;
    if expired > 0 {
        add_held(&mut tx, ticket_type_id, -expired, now).await?;
    }
    tx.commit().await?;
    Ok(expired)
}

/// Sets a pool's capacity, refusing to go below what is sold and held.
pub async fn set_capacity(db: &Db, tx: &mut Tx, ticket_type_id: &str, capacity: i64, now: Millis) -> ApiResult<()> {
    let pool = lock(db, tx, ticket_type_id)
        .await?
        .ok_or_else(|| ApiError::not_found("ticket type"))?;
    let expired = expire_holds(tx, ticket_type_id, now).await?;
    let held = pool.held - expired;
    if capacity < held + pool.sold {
        return Err(ApiError::rule(
            "capacity_below_committed",
            format!(
                "capacity cannot go below {} (sold {} + held {})",
                held + pool.sold,
                pool.sold,
                held
            ),
        ));
    }
    sqlx::query(
        "UPDATE inventory_pools SET capacity = $1, held = $2, updated_at = $3 WHERE ticket_type_id = $4",
    )
    .bind(capacity)
    .bind(held)
    .bind(now)
    .bind(ticket_type_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Live figures of every ticket type of an event: GA from pools and live holds, seated
/// from seats and live seat claims.
pub async fn figures_for_event(db: &Db, event_id: &str, now: Millis) -> Result<HashMap<String, Figures>, sqlx::Error> {
    let mut figures: HashMap<String, Figures> = HashMap::new();
    let pools: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT ticket_type_id, capacity, sold FROM inventory_pools WHERE event_id = $1",
    )
    .bind(event_id.to_string())
    .fetch_all(&db.pool)
    .await?;
    for (id, capacity, sold) in pools {
        figures.insert(id, Figures { capacity, held: 0, sold });
    }
    let held: Vec<(String, i64)> = sqlx::query_as(
        "SELECT ticket_type_id, COALESCE(SUM(quantity), 0) FROM holds \
         WHERE event_id = $1 AND seat_id IS NULL AND status = 'active' AND expires_at > $2 \
         GROUP BY ticket_type_id",
    )
    .bind(event_id.to_string())
    .bind(now)
    .fetch_all(&db.pool)
    .await?;
    for (id, n) in held {
        figures.entry(id).or_default().held = n;
    }
    let seats: Vec<(String, i64)> = sqlx::query_as(
        "SELECT ticket_type_id, COUNT(*) FROM seats WHERE event_id = $1 AND blocked = 0 \
         GROUP BY ticket_type_id",
    )
    .bind(event_id.to_string())
    .fetch_all(&db.pool)
    .await?;
    for (id, n) in seats {
        figures.entry(id).or_default().capacity = n;
    }
    let claims: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT s.ticket_type_id, c.kind, COUNT(*) FROM seat_claims c JOIN seats s ON s.id = c.seat_id \
         WHERE c.event_id = $1 AND (c.kind = 'ticket' OR c.expires_at > $2) \
         GROUP BY s.ticket_type_id, c.kind",
    )
    .bind(event_id.to_string())
    .bind(now)
    .fetch_all(&db.pool)
    .await?;
    for (id, kind, n) in claims {
        let f = figures.entry(id).or_default();
        if kind == "ticket" {
            f.sold += n;
        } else {
            f.held += n;
        }
    }
    Ok(figures)
}
