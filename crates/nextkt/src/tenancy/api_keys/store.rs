//! The SQL of API keys and storefront keys.

use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};
use crate::platform::pagination::PageRequest;
use crate::tenancy::organizations::OrganizationRow;

#[derive(sqlx::FromRow)]
pub struct KeyRow {
    pub id: String,
    pub organization_id: String,
    pub kind: String,
    pub mode: String,
    pub name: String,
    pub prefix: String,
    pub role: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const KEY_COLUMNS: &str = "k.id, k.organization_id, k.kind, k.mode, k.name, k.prefix, k.role, \
                           k.created_at, k.expires_at, k.last_used_at, k.revoked_at";

/// The key with this secret hash, whatever its state, with its organization: one query, as
/// it runs for every request a key makes.
pub async fn find_with_org(
    db: &Db,
    secret_hash: &str,
) -> Result<Option<(KeyRow, OrganizationRow)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Found {
        #[sqlx(flatten)]
        key: KeyRow,
        org_name: String,
        org_currency: String,
        org_timezone: String,
        org_locale: String,
        org_support_email: Option<String>,
        org_website: Option<String>,
        org_partner_id: Option<String>,
        org_external_ref: Option<String>,
        org_created_at: i64,
        org_updated_at: i64,
        org_suspended_at: Option<i64>,
        org_fee_json: Option<String>,
        org_tax_bps: i64,
    }
    let found: Option<Found> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {KEY_COLUMNS}, o.name AS org_name, o.currency AS org_currency, \
         o.timezone AS org_timezone, o.locale AS org_locale, o.support_email AS org_support_email, \
         o.website AS org_website, o.partner_id AS org_partner_id, o.external_ref AS org_external_ref, \
         o.created_at AS org_created_at, o.updated_at AS org_updated_at, \
         o.suspended_at AS org_suspended_at, o.fee_json AS org_fee_json, o.tax_bps AS org_tax_bps \
         FROM api_keys k JOIN organizations o ON o.id = k.organization_id WHERE k.secret_hash = $1"
    )))
    .bind(secret_hash.to_string())
    .fetch_optional(&db.pool)
    .await?;
    Ok(found.map(|found| {
        let org = OrganizationRow {
            id: found.key.organization_id.clone().into(),
            name: found.org_name,
            currency: found.org_currency,
            timezone: found.org_timezone,
            locale: found.org_locale,
            support_email: found.org_support_email,
            website: found.org_website,
            partner_id: found.org_partner_id,
            external_ref: found.org_external_ref,
            created_at: found.org_created_at,
            updated_at: found.org_updated_at,
            suspended_at: found.org_suspended_at,
            fee_json: found.org_fee_json,
            tax_bps: found.org_tax_bps,
        };
        (found.key, org)
    }))
}

pub async fn touch_last_used(db: &Db, key_id: &str, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
        .bind(now)
        .bind(key_id.to_string())
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Inserts `row` with the hash of its secret and who created it.
pub async fn insert(
    tx: &mut Tx,
    row: &KeyRow,
    secret_hash: String,
    created_by_kind: &str,
    created_by_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO api_keys (id, organization_id, kind, mode, name, prefix, secret_hash, role, \
         created_by_kind, created_by_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(row.id.clone())
    .bind(row.organization_id.clone())
    .bind(row.kind.clone())
    .bind(row.mode.clone())
    .bind(row.name.clone())
    .bind(row.prefix.clone())
    .bind(secret_hash)
    .bind(row.role.clone())
    .bind(created_by_kind.to_string())
    .bind(created_by_id.to_string())
    .bind(row.created_at)
    .bind(row.expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Marks the key revoked (an already revoked key keeps its time); false when the
/// organization has no key of this kind with this id.
pub async fn revoke(
    tx: &mut Tx,
    org_id: &str,
    key_id: &str,
    kind: &str,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) \
         WHERE id = $2 AND organization_id = $3 AND kind = $4",
    )
    .bind(now)
    .bind(key_id.to_string())
    .bind(org_id.to_string())
    .bind(kind.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// The ids of the organization's admin keys not revoked yet.
pub async fn unrevoked_admin_ids(tx: &mut Tx, org_id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM api_keys WHERE organization_id = $1 AND kind = 'admin' \
         AND revoked_at IS NULL",
    )
    .bind(org_id.to_string())
    .fetch_all(&mut **tx)
    .await
}

/// One page of the organization's keys of `kind`, newest first.
pub async fn page_of(
    db: &Db,
    org_id: &str,
    kind: &str,
    page: &PageRequest,
) -> Result<Vec<KeyRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.organization_id = $1 AND k.kind = $2 \
         AND ($3 = '' OR k.id < $3) ORDER BY k.id DESC LIMIT $4"
    )))
    .bind(org_id.to_string())
    .bind(kind.to_string())
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&db.pool)
    .await
}
