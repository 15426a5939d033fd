//! The SQL of `devices`.

use super::DeviceRow;
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};

/// A device to write, awaiting pairing.
pub struct NewDevice<'a> {
    pub row: &'a DeviceRow,
    pub org_id: &'a str,
    pub pairing_code_hash: String,
    pub pairing_expires_at: Millis,
}

pub async fn insert(tx: &mut Tx, new: NewDevice<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO devices (id, organization_id, name, list_ids_json, pairing_code_hash, pairing_expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new.row.id.clone())
    .bind(new.org_id.to_string())
    .bind(new.row.name.clone())
    .bind(new.row.list_ids_json.clone())
    .bind(new.pairing_code_hash)
    .bind(new.pairing_expires_at)
    .bind(new.row.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A page of the organization's devices, by id after `after` (`""`: from the first).
pub async fn page_of_org(
    db: &Db,
    org_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<DeviceRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, list_ids_json, paired_at, revoked_at, created_at FROM devices \
         WHERE organization_id = $1 AND ($2 = '' OR id > $2) ORDER BY id LIMIT $3",
    )
    .bind(org_id.to_string())
    .bind(after.to_string())
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}

/// Revokes the organization's device (kept revoked at its first revocation); whether it
/// was found.
pub async fn revoke(
    tx: &mut Tx,
    org_id: &str,
    device_id: &str,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE devices SET revoked_at = COALESCE(revoked_at, $1), pairing_code_hash = NULL WHERE id = $2 AND organization_id = $3",
    )
    .bind(now)
    .bind(device_id.to_string())
    .bind(org_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Pairs the device whose unexpired code hashes to `code_hash`: its id and lists.
pub async fn pair(
    db: &Db,
    code_hash: String,
    secret_hash: String,
    now: Millis,
) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE devices SET secret_hash = $1, paired_at = $2, pairing_code_hash = NULL \
         WHERE pairing_code_hash = $3 AND pairing_expires_at > $2 AND revoked_at IS NULL RETURNING id, list_ids_json",
    )
    .bind(secret_hash)
    .bind(now)
    .bind(code_hash)
    .fetch_optional(&db.pool)
    .await
}

/// The unrevoked device with this secret: id, organization, lists, and when the
/// organization was suspended.
pub async fn by_secret(
    db: &Db,
    secret_hash: &str,
) -> Result<Option<(String, String, String, Option<i64>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT d.id, d.organization_id, d.list_ids_json, o.suspended_at FROM devices d \
         JOIN organizations o ON o.id = d.organization_id WHERE d.secret_hash = $1 AND d.revoked_at IS NULL",
    )
    .bind(secret_hash.to_string())
    .fetch_optional(&db.pool)
    .await
}
