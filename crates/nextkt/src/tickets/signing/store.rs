//! The SQL of `event_signing_keys`.

use super::PublicKey;
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};

#[derive(sqlx::FromRow)]
pub struct KeyRow {
    pub id: String,
    pub secret_key: String,
}

/// The organization a key belongs to, and its public half.
pub async fn owner_and_key(db: &Db, kid: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT organization_id, public_key FROM event_signing_keys WHERE id = $1")
        .bind(kid.to_string())
        .fetch_optional(&db.pool)
        .await
}

/// The event's newest unretired key, locked (on PostgreSQL) until the transaction ends.
pub async fn newest_for_update(
    db: &Db,
    tx: &mut Tx,
    event_id: &str,
) -> Result<Option<KeyRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, secret_key FROM event_signing_keys WHERE event_id = $1 AND retired_at IS NULL \
         ORDER BY created_at DESC, id DESC LIMIT 1{}",
        db.for_update()
    )))
    .bind(event_id.to_string())
    .fetch_optional(&mut **tx)
    .await
}

/// A key to write (both halves base64url).
pub struct NewKey<'a> {
    pub id: &'a str,
    pub org_id: &'a str,
    pub event_id: &'a str,
    pub public_key: String,
    pub secret_key: String,
}

pub async fn insert(tx: &mut Tx, key: NewKey<'_>, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO event_signing_keys (id, organization_id, event_id, public_key, secret_key, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(key.id.to_string())
    .bind(key.org_id.to_string())
    .bind(key.event_id.to_string())
    .bind(key.public_key)
    .bind(key.secret_key)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The event's unretired keys, oldest first.
pub async fn public_keys(db: &Db, event_id: &str) -> Result<Vec<PublicKey>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, public_key, created_at FROM event_signing_keys WHERE event_id = $1 AND retired_at IS NULL \
         ORDER BY created_at, id",
    )
    .bind(event_id.to_string())
    .fetch_all(&db.pool)
    .await
}

/// A page of the event's unretired keys, by id after `after` (`""`: from the first).
pub async fn page_of_event(
    db: &Db,
    event_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<PublicKey>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, public_key, created_at FROM event_signing_keys WHERE event_id = $1 \
         AND retired_at IS NULL AND ($2 = '' OR id > $2) ORDER BY id LIMIT $3",
    )
    .bind(event_id.to_string())
    .bind(after.to_string())
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}
