//! The SQL of operator accounts.

use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};
use crate::platform::ids::new_id;

#[derive(sqlx::FromRow)]
pub struct OperatorRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
}

/// Inserts an account with its password. A taken email comes back as the database's unique
/// violation for the caller to map.
pub async fn insert(
    tx: &mut Tx,
    id: &str,
    email: &str,
    name: &str,
    password_hash: String,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO operators (id, email, name, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(id.to_string())
    .bind(email.to_string())
    .bind(name.to_string())
    .bind(password_hash)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<OperatorRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, email, name, password_hash FROM operators WHERE email = $1")
        .bind(email.to_string())
        .fetch_optional(&db.pool)
        .await
}

/// The account, which must exist.
pub async fn get(db: &Db, id: &str) -> Result<OperatorRow, sqlx::Error> {
    sqlx::query_as("SELECT id, email, name, password_hash FROM operators WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(&db.pool)
        .await
}

pub async fn email_of(tx: &mut Tx, id: &str) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT email FROM operators WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(&mut **tx)
        .await
}

/// The account's password hash: `None` while an invitation is not accepted.
pub async fn password_hash(tx: &mut Tx, id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar::<_, Option<String>>("SELECT password_hash FROM operators WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(&mut **tx)
        .await
}

/// Sets name and password of an invited account that has none yet; false when it has one.
pub async fn set_up(
    tx: &mut Tx,
    id: &str,
    name: &str,
    password_hash: String,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE operators SET name = $1, password_hash = $2, updated_at = $3 \
         WHERE id = $4 AND password_hash IS NULL",
    )
    .bind(name.to_string())
    .bind(password_hash)
    .bind(now)
    .bind(id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Operators invited by email get an account without a password until they accept.
pub async fn find_or_invite(
    tx: &mut Tx,
    email: &str,
    now: i64,
) -> Result<(String, bool), sqlx::Error> {
    let existing: Option<String> = sqlx::query_scalar("SELECT id FROM operators WHERE email = $1")
        .bind(email.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(id) = existing {
        return Ok((id, false));
    }
    let id = new_id();
    sqlx::query(
        "INSERT INTO operators (id, email, name, created_at, updated_at) VALUES ($1, $2, '', $3, $3)",
    )
    .bind(id.clone())
    .bind(email.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok((id, true))
}
