//! Users: people who log in. Emails are stored lower-cased and unique.

use sqlx::AnyConnection;

use crate::ids::UserId;
use crate::platform::clock::Millis;
use crate::platform::db::Tx;
use crate::platform::error::{ApiError, ApiResult, is_unique_violation};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub token_version: i64,
}

const COLUMNS: &str = "id, email, name, password_hash, token_version";

pub async fn by_email(
    conn: &mut AnyConnection,
    email: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM users WHERE email = $1"
    )))
    .bind(email)
    .fetch_optional(conn)
    .await
}

pub async fn by_id(conn: &mut AnyConnection, id: &UserId) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM users WHERE id = $1"
    )))
    .bind(id.as_str())
    .fetch_optional(conn)
    .await
}

pub struct NewUser<'a> {
    pub id: &'a UserId,
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: &'a str,
}

pub async fn insert(tx: &mut Tx, new: NewUser<'_>, now: Millis) -> ApiResult<()> {
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, token_version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 1, $5, $5)",
    )
    .bind(new.id.as_str())
    .bind(new.email)
    .bind(new.name)
    .bind(new.password_hash)
    .bind(now)
    .execute(&mut **tx)
    .await;
    match inserted {
        Err(err) if is_unique_violation(&err) => Err(ApiError::conflict(
            "email_taken",
            "an account with this email exists; log in instead",
        )),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

/// Revokes every access token issued so far (logout, password change); the new version.
pub async fn bump_token_version(tx: &mut Tx, id: &UserId, now: Millis) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE users SET token_version = token_version + 1, updated_at = $2 WHERE id = $1 \
         RETURNING token_version",
    )
    .bind(id.as_str())
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

pub async fn set_password(
    tx: &mut Tx,
    id: &UserId,
    hash: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
        .bind(id.as_str())
        .bind(hash)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
