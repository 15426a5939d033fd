//! The SQL of points: programs, lots and the ledger.

use super::{Movement, PointsProgram};
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};
use crate::platform::ids::new_id;

pub async fn program(
    db: &Db,
    org_id: &str,
    default_currency: &str,
) -> Result<PointsProgram, sqlx::Error> {
    let found: Option<PointsProgram> = sqlx::query_as(
        "SELECT earn_per, point_value, expiry_days, currency FROM points_programs WHERE organization_id = $1",
    )
    .bind(org_id.to_string())
    .fetch_optional(&db.pool)
    .await?;
    Ok(found.unwrap_or_else(|| PointsProgram::off(default_currency)))
}

/// Points a buyer can spend now.
pub async fn balance(db: &Db, buyer_id: &str, now: Millis) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(remaining), 0) AS BIGINT) FROM points_lots \
         WHERE buyer_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(buyer_id.to_string())
    .bind(now)
    .fetch_one(&db.pool)
    .await
}

/// Points a buyer can spend now, with their live lots locked for the rest of the
/// transaction (so what is read stays true until it is spent).
pub async fn balance_locked(
    db: &Db,
    tx: &mut Tx,
    buyer_id: &str,
    now: Millis,
) -> Result<i64, sqlx::Error> {
    let lots: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT remaining FROM points_lots WHERE buyer_id = $1 AND remaining > 0 \
         AND (expires_at IS NULL OR expires_at > $2){}",
        db.for_update()
    )))
    .bind(buyer_id.to_string())
    .bind(now)
    .fetch_all(&mut **tx)
    .await?;
    Ok(lots.iter().sum())
}

/// The buyer's live lots (id, remaining), soonest-expiring first, locked for the rest of
/// the transaction.
pub async fn live_lots_locked(
    db: &Db,
    tx: &mut Tx,
    buyer_id: &str,
    now: Millis,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, remaining FROM points_lots WHERE buyer_id = $1 AND remaining > 0 \
         AND (expires_at IS NULL OR expires_at > $2) \
         ORDER BY CASE WHEN expires_at IS NULL THEN 1 ELSE 0 END, expires_at, id{}",
        db.for_update()
    )))
    .bind(buyer_id.to_string())
    .bind(now)
    .fetch_all(&mut **tx)
    .await
}

pub async fn take_from_lot(tx: &mut Tx, lot_id: &str, points: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE points_lots SET remaining = remaining - $1 WHERE id = $2")
        .bind(points)
        .bind(lot_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A new lot of `points`, expiring at `expires_at` (never when `None`).
pub async fn insert_lot(
    tx: &mut Tx,
    m: &Movement<'_>,
    points: i64,
    expires_at: Option<Millis>,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO points_lots (id, organization_id, buyer_id, points, remaining, expires_at, source_id, created_at) \
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
    )
    .bind(new_id())
    .bind(m.org_id.to_string())
    .bind(m.buyer_id.to_string())
    .bind(points)
    .bind(expires_at)
    .bind(m.reference_id.map(str::to_string))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn insert_ledger(
    tx: &mut Tx,
    m: &Movement<'_>,
    delta: i64,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO points_ledger (id, organization_id, buyer_id, delta, kind, reference_id, note, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id())
    .bind(m.org_id.to_string())
    .bind(m.buyer_id.to_string())
    .bind(delta)
    .bind(m.kind.to_string())
    .bind(m.reference_id.map(str::to_string))
    .bind(m.note.map(str::to_string))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn upsert_program(
    tx: &mut Tx,
    org_id: &str,
    program: &PointsProgram,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO points_programs (organization_id, earn_per, point_value, expiry_days, currency, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (organization_id) DO UPDATE SET \
         earn_per = $2, point_value = $3, expiry_days = $4, currency = $5, updated_at = $6",
    )
    .bind(org_id.to_string())
    .bind(program.earn_per)
    .bind(program.point_value)
    .bind(program.expiry_days)
    .bind(program.currency.clone())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Whether the buyer is one of the organization's.
pub async fn buyer_of_org(db: &Db, org_id: &str, buyer_id: &str) -> Result<bool, sqlx::Error> {
    let known: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM buyers WHERE id = $1 AND organization_id = $2")
            .bind(buyer_id.to_string())
            .bind(org_id.to_string())
            .fetch_one(&db.pool)
            .await?;
    Ok(known > 0)
}

/// When the soonest of the buyer's remaining points expire.
pub async fn next_expiry(db: &Db, buyer_id: &str, now: Millis) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT MIN(expires_at) FROM points_lots WHERE buyer_id = $1 AND remaining > 0 AND expires_at > $2",
    )
    .bind(buyer_id.to_string())
    .bind(now)
    .fetch_one(&db.pool)
    .await
}

#[derive(sqlx::FromRow)]
pub struct LedgerRow {
    pub id: String,
    pub delta: i64,
    pub kind: String,
    pub reference_id: Option<String>,
    pub note: Option<String>,
    pub created_at: i64,
}

/// The buyer's last 100 movements, newest first.
pub async fn ledger_of(db: &Db, buyer_id: &str) -> Result<Vec<LedgerRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, delta, kind, reference_id, note, created_at FROM points_ledger WHERE buyer_id = $1 \
         ORDER BY id DESC LIMIT 100",
    )
    .bind(buyer_id.to_string())
    .fetch_all(&db.pool)
    .await
}
