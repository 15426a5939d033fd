//! The SQL of partners, and of the organizations seen by the partner that provisioned them.

use crate::platform::db::Db;
use crate::platform::pagination::PageRequest;
use crate::tenancy::organizations::{COLUMNS, OrganizationRow};

pub async fn insert(
    db: &Db,
    id: &str,
    name: String,
    key_prefix: String,
    key_hash: String,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO partners (id, name, key_prefix, key_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id.to_string())
    .bind(name)
    .bind(key_prefix)
    .bind(key_hash)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Stores (or with `None` clears) the partner's platform-fee deal, as the JSON commerce
/// reads it back from. False when there is no such partner.
pub async fn set_fee_json(
    db: &Db,
    partner_id: &str,
    fee_json: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE partners SET fee_json = $1 WHERE id = $2")
        .bind(fee_json.map(str::to_string))
        .bind(partner_id.to_string())
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The id and name of the unrevoked partner whose key has this hash.
pub async fn find_by_key_hash(
    db: &Db,
    key_hash: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, name FROM partners WHERE key_hash = $1 AND revoked_at IS NULL")
        .bind(key_hash.to_string())
        .fetch_optional(&db.pool)
        .await
}

pub async fn find_by_ref(
    db: &Db,
    partner_id: &str,
    external_ref: &str,
) -> Result<Option<OrganizationRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM organizations WHERE partner_id = $1 AND external_ref = $2"
    )))
    .bind(partner_id.to_string())
    .bind(external_ref.to_string())
    .fetch_optional(&db.pool)
    .await
}

/// One page of the organizations the partner provisioned, newest first.
pub async fn organizations_page(
    db: &Db,
    partner_id: &str,
    page: &PageRequest,
) -> Result<Vec<OrganizationRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM organizations WHERE partner_id = $1 \
         AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3"
    )))
    .bind(partner_id.to_string())
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&db.pool)
    .await
}
