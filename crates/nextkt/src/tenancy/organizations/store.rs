//! The SQL of organizations.

use super::{DEFAULT_CURRENCY, DEFAULT_LOCALE, DEFAULT_TIMEZONE};
use crate::ids::OrgId;
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};

#[derive(Clone, sqlx::FromRow)]
pub struct OrganizationRow {
    pub id: OrgId,
    pub name: String,
    pub currency: String,
    pub timezone: String,
    pub locale: String,
    pub support_email: Option<String>,
    pub website: Option<String>,
    pub partner_id: Option<String>,
    pub external_ref: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub suspended_at: Option<i64>,
    /// This organization's own platform-fee deal (JSON of `commerce::fees::FeeDeal`).
    pub fee_json: Option<String>,
    /// Tax on tickets, in basis points (0: none).
    pub tax_bps: i64,
}

pub const COLUMNS: &str = "id, name, currency, timezone, locale, support_email, website, \
                           partner_id, external_ref, created_at, updated_at, suspended_at, \
                           fee_json, tax_bps";

pub struct NewOrganization<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub partner_id: Option<&'a str>,
    pub external_ref: Option<&'a str>,
}

/// Inserts an organization with the platform defaults. Unique violations (a taken id or
/// partner reference) come back as the database error for the caller to map.
pub async fn insert(
    tx: &mut Tx,
    new: NewOrganization<'_>,
    now: Millis,
) -> Result<OrganizationRow, sqlx::Error> {
    sqlx::query(
        "INSERT INTO organizations (id, name, currency, timezone, locale, partner_id, \
         external_ref, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(new.id.to_string())
    .bind(new.name.to_string())
    .bind(DEFAULT_CURRENCY)
    .bind(DEFAULT_TIMEZONE)
    .bind(DEFAULT_LOCALE)
    .bind(new.partner_id.map(str::to_string))
    .bind(new.external_ref.map(str::to_string))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(OrganizationRow {
        id: new.id.into(),
        name: new.name.to_string(),
        currency: DEFAULT_CURRENCY.into(),
        timezone: DEFAULT_TIMEZONE.into(),
        locale: DEFAULT_LOCALE.into(),
        support_email: None,
        website: None,
        partner_id: new.partner_id.map(str::to_string),
        external_ref: new.external_ref.map(str::to_string),
        created_at: now,
        updated_at: now,
        suspended_at: None,
        fee_json: None,
        tax_bps: 0,
    })
}

pub async fn find(db: &Db, id: &OrgId) -> Result<Option<OrganizationRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM organizations WHERE id = $1"
    )))
    .bind(id.to_string())
    .fetch_optional(&db.pool)
    .await
}

/// Reads the organization inside a write transaction, locking it so that changes to one
/// organization's members and keys happen one at a time.
pub async fn find_in(
    db: &Db,
    tx: &mut Tx,
    id: &str,
) -> Result<Option<OrganizationRow>, sqlx::Error> {
    let lock = db.for_update();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM organizations WHERE id = $1{lock}"
    )))
    .bind(id.to_string())
    .fetch_optional(&mut **tx)
    .await
}

/// Writes the settings an operator may change (and `updated_at`) from `row`.
pub async fn update_settings(tx: &mut Tx, row: &OrganizationRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE organizations SET name = $1, currency = $2, timezone = $3, locale = $4, \
         support_email = $5, website = $6, updated_at = $7, tax_bps = $9 WHERE id = $8",
    )
    .bind(row.name.clone())
    .bind(row.currency.clone())
    .bind(row.timezone.clone())
    .bind(row.locale.clone())
    .bind(row.support_email.clone())
    .bind(row.website.clone())
    .bind(row.updated_at)
    .bind(row.id.clone())
    .bind(row.tax_bps)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores (or with `None` clears) the organization's own platform-fee deal, as the JSON
/// commerce reads it back from.
pub async fn set_fee_json(
    tx: &mut Tx,
    org_id: &str,
    fee_json: Option<&str>,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE organizations SET fee_json = $1, updated_at = $2 WHERE id = $3")
        .bind(fee_json.map(str::to_string))
        .bind(now)
        .bind(org_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_suspended_at(
    tx: &mut Tx,
    org_id: &str,
    suspended: bool,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE organizations SET suspended_at = $1, updated_at = $2 WHERE id = $3")
        .bind(suspended.then_some(now))
        .bind(now)
        .bind(org_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
