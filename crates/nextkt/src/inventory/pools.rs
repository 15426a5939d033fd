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
    /// What is left to hold or sell (below 0 only if the invariant was ever broken).
    pub fn left(&self) -> i64 {
        self.capacity - self.held - self.sold
    }

    pub fn remaining(&self) -> i64 {
        self.left().max(0)
    }
}

pub async fn create(
    tx: &mut Tx,
    ticket_type: &TicketTypeRow,
    capacity: i64,
    now: Millis,
) -> Result<(), sqlx::Error> {
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
    pub next_expiry_at: Option<i64>,
}

pub async fn lock(
    db: &Db,
    tx: &mut Tx,
    ticket_type_id: &str,
) -> Result<Option<Locked>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT capacity, held, sold, next_expiry_at FROM inventory_pools WHERE ticket_type_id = $1{}",
        db.for_update()
    )))
    .bind(ticket_type_id.to_string())
    .fetch_optional(&mut **tx)
    .await
}

/// Sweeps the locked pool's expired holds if any can have expired (`next_expiry_at` has
/// passed), takes them off `held`, and moves `next_expiry_at` to the next live hold's
/// expiry. Returns the units released. Most batches skip all of this.
pub async fn expire_due(
    tx: &mut Tx,
    ticket_type_id: &str,
    pool: &Locked,
    now: Millis,
) -> Result<i64, sqlx::Error> {
    if pool.next_expiry_at.is_none_or(|at| at > now) {
        return Ok(0);
    }
    let expired = expire_holds(tx, ticket_type_id, now).await?;
    sqlx::query(
        "UPDATE inventory_pools SET held = held - $1, updated_at = $2, next_expiry_at = \
         (SELECT MIN(expires_at) FROM holds WHERE ticket_type_id = $3 AND seat_id IS NULL \
          AND status = 'active') WHERE ticket_type_id = $3",
    )
    .bind(expired)
    .bind(now)
    .bind(ticket_type_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(expired)
}

/// Marks the pool's expired holds as expired and returns how many units they held.
async fn expire_holds(tx: &mut Tx, ticket_type_id: &str, now: Millis) -> Result<i64, sqlx::Error> {
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

/// Locks the pool and sweeps its expired holds; its figures, live. `None`: the ticket type
/// has no pool. Every decision about a pool's stock starts here.
pub async fn lock_live(
    db: &Db,
    tx: &mut Tx,
    ticket_type_id: &str,
    now: Millis,
) -> Result<Option<Figures>, sqlx::Error> {
    let Some(pool) = lock(db, tx, ticket_type_id).await? else {
        return Ok(None);
    };
    let expired = expire_due(tx, ticket_type_id, &pool, now).await?;
    Ok(Some(Figures {
        capacity: pool.capacity,
        held: pool.held - expired,
        sold: pool.sold,
    }))
}

/// Changes `sold` of a pool the transaction has locked.
pub async fn add_sold(
    tx: &mut Tx,
    ticket_type_id: &str,
    delta: i64,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE inventory_pools SET sold = sold + $1, updated_at = $2 WHERE ticket_type_id = $3",
    )
    .bind(delta)
    .bind(now)
    .bind(ticket_type_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Moves a locked pool's units from held to sold: `held_units` come off `held`, `sold_units`
/// (those plus units whose holds had lapsed) go onto `sold`.
pub async fn convert_held(
    tx: &mut Tx,
    ticket_type_id: &str,
    held_units: i64,
    sold_units: i64,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE inventory_pools SET held = held - $1, sold = sold + $2, updated_at = $3 \
         WHERE ticket_type_id = $4",
    )
    .bind(held_units)
    .bind(sold_units)
    .bind(now)
    .bind(ticket_type_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Sets a locked pool's capacity.
async fn store_capacity(
    tx: &mut Tx,
    ticket_type_id: &str,
    capacity: i64,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE inventory_pools SET capacity = $1, updated_at = $2 WHERE ticket_type_id = $3",
    )
    .bind(capacity)
    .bind(now)
    .bind(ticket_type_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What `sell_outright` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sale {
    Sold,
    /// The units did not fit: only `left` were there, and nothing changed.
    Short {
        left: i64,
    },
}

/// Sells `units` of a GA ticket type at once, with no hold first (tickets given away), in
/// the caller's transaction: under the same rule as a hold, they must fit in what is left
/// once the pool's expired holds are swept. 404 when the ticket type has no pool. Callers
/// selling from several pools sell in ticket type id order, as locks are taken.
#[tracing::instrument(skip_all, fields(ticket_type = ticket_type_id, units))]
pub async fn sell_outright(
    db: &Db,
    tx: &mut Tx,
    ticket_type_id: &str,
    units: i64,
    now: Millis,
) -> ApiResult<Sale> {
    let pool = lock_live(db, tx, ticket_type_id, now)
        .await?
        .ok_or_else(|| ApiError::not_found("ticket type"))?;
    if units > pool.left() {
        return Ok(Sale::Short { left: pool.left() });
    }
    add_sold(tx, ticket_type_id, units, now).await?;
    Ok(Sale::Sold)
}

/// Changes `held`; `new_expiry` is the expiry of holds just created, which may move
/// `next_expiry_at` earlier.
pub async fn add_held(
    tx: &mut Tx,
    ticket_type_id: &str,
    delta: i64,
    new_expiry: Option<Millis>,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE inventory_pools SET held = held + $1, updated_at = $2, \
         next_expiry_at = CASE WHEN $3 = 0 THEN next_expiry_at \
           WHEN next_expiry_at IS NULL OR next_expiry_at > $3 THEN $3 ELSE next_expiry_at END \
         WHERE ticket_type_id = $4",
    )
    .bind(delta)
    .bind(now)
    .bind(new_expiry.unwrap_or(0))
    .bind(ticket_type_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Sweeps one pool's expired holds in its own transaction.
pub async fn sweep(db: &Db, ticket_type_id: &str, now: Millis) -> Result<i64, sqlx::Error> {
    let mut tx = db.begin().await?;
    let Some(pool) = lock(db, &mut tx, ticket_type_id).await? else {
        return Ok(0);
    };
    // Swept whatever next_expiry_at says: the sweeper found expired holds here.
    let due = Locked {
        next_expiry_at: Some(now),
        ..pool
    };
    let expired = expire_due(&mut tx, ticket_type_id, &due, now).await?;
    tx.commit().await?;
    Ok(expired)
}

/// Sets a pool's capacity, refusing to go below what is sold and held.
#[tracing::instrument(skip_all, fields(ticket_type = ticket_type_id, capacity))]
pub async fn set_capacity(
    db: &Db,
    tx: &mut Tx,
    ticket_type_id: &str,
    capacity: i64,
    now: Millis,
) -> ApiResult<()> {
    let pool = lock_live(db, tx, ticket_type_id, now)
        .await?
        .ok_or_else(|| ApiError::not_found("ticket type"))?;
    let held = pool.held;
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
    store_capacity(tx, ticket_type_id, capacity, now).await?;
    Ok(())
}

/// Live figures of every ticket type of an event: GA from pools and live holds, seated
/// from seats and live seat claims.
pub async fn figures_for_event(
    db: &Db,
    event_id: &str,
    now: Millis,
) -> Result<HashMap<String, Figures>, sqlx::Error> {
    let mut figures: HashMap<String, Figures> = HashMap::new();
    let pools: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT ticket_type_id, capacity, sold FROM inventory_pools WHERE event_id = $1",
    )
    .bind(event_id.to_string())
    .fetch_all(&db.pool)
    .await?;
    for (id, capacity, sold) in pools {
        figures.insert(
            id,
            Figures {
                capacity,
                held: 0,
                sold,
            },
        );
    }
    let held: Vec<(String, i64)> = sqlx::query_as(
        "SELECT ticket_type_id, CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM holds \
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
