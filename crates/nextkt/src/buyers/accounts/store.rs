//! The SQL of buyer accounts.

use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};

#[derive(sqlx::FromRow)]
pub struct BuyerRow {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub email_verified_at: Option<i64>,
    pub created_at: i64,
}

const BUYER_COLUMNS: &str =
    "id, organization_id, email, name, password_hash, email_verified_at, created_at";

pub async fn find_by_email(
    db: &Db,
    org_id: &str,
    email: &str,
) -> Result<Option<BuyerRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {BUYER_COLUMNS} FROM buyers WHERE organization_id = $1 AND email = $2"
    )))
    .bind(org_id.to_string())
    .bind(email.to_string())
    .fetch_optional(&db.pool)
    .await
}

/// The account, which must exist.
pub async fn get(db: &Db, id: &str) -> Result<BuyerRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {BUYER_COLUMNS} FROM buyers WHERE id = $1"
    )))
    .bind(id.to_string())
    .fetch_one(&db.pool)
    .await
}

/// The account, if it belongs to this organization.
pub async fn find(db: &Db, org_id: &str, id: &str) -> Result<Option<BuyerRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {BUYER_COLUMNS} FROM buyers WHERE id = $1 AND organization_id = $2"
    )))
    .bind(id.to_string())
    .bind(org_id.to_string())
    .fetch_optional(&db.pool)
    .await
}

/// Inserts the account. A taken email comes back as the database's unique violation for
/// the caller to map.
pub async fn insert(tx: &mut Tx, row: &BuyerRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO buyers (id, organization_id, email, name, password_hash, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(row.id.clone())
    .bind(row.organization_id.clone())
    .bind(row.email.clone())
    .bind(row.name.clone())
    .bind(row.password_hash.clone())
    .bind(row.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn set_password(
    tx: &mut Tx,
    id: &str,
    password_hash: String,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE buyers SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(password_hash)
        .bind(now)
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Marks the email verified; a second verification keeps the first time.
pub async fn mark_verified(tx: &mut Tx, id: &str, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE buyers SET email_verified_at = COALESCE(email_verified_at, $1), updated_at = $1 \
         WHERE id = $2",
    )
    .bind(now)
    .bind(id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The organization of the buyer session holding this refresh token hash: `None` for no such
/// session, `Some(None)` for one without an organization.
pub async fn session_organization(
    db: &Db,
    refresh_hash: &str,
) -> Result<Option<Option<String>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT organization_id FROM sessions WHERE refresh_hash = $1 AND subject_kind = 'buyer'",
    )
    .bind(refresh_hash.to_string())
    .fetch_optional(&db.pool)
    .await
}
