//! Organizations (tenants): their profile and settings, creation (by operator sign-up or by
//! a partner) and suspension.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::access::{AdminAccess, suspended};
use super::audit::{self, Change};
use super::roles::Permission;
use crate::platform::clock::{Millis, opt_rfc3339, rfc3339};
use crate::platform::db::{Db, Tx};
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::json::ApiJson;
use crate::platform::validate;
use crate::state::AppState;

pub const DEFAULT_CURRENCY: &str = "IDR";
pub const DEFAULT_TIMEZONE: &str = "Asia/Jakarta";
pub const DEFAULT_LOCALE: &str = "en";

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Organization {
    pub id: String,
    pub name: String,
    /// Default currency of new events (ISO 4217).
    pub currency: String,
    /// Default IANA time zone of new events.
    pub timezone: String,
    /// Language of emails when a buyer has none (`en` or `id`).
    pub locale: String,
    pub support_email: Option<String>,
    pub website: Option<String>,
    /// Tax added to tickets, in basis points (1,000 = 10 %); 0 for none.
    pub tax_bps: i64,
    /// `active` or `suspended`.
    pub status: String,
    /// The provisioning partner's reference, for organizations a partner created.
    pub external_ref: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub suspended_at: Option<String>,
}

#[derive(Clone, sqlx::FromRow)]
pub struct OrganizationRow {
    pub id: String,
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

impl From<OrganizationRow> for Organization {
    fn from(row: OrganizationRow) -> Self {
        Organization {
            status: if row.suspended_at.is_some() {
                "suspended"
            } else {
                "active"
            }
            .to_string(),
            id: row.id,
            name: row.name,
            currency: row.currency,
            timezone: row.timezone,
            locale: row.locale,
            support_email: row.support_email,
            website: row.website,
            tax_bps: row.tax_bps,
            external_ref: row.external_ref,
            created_at: rfc3339(row.created_at),
            updated_at: rfc3339(row.updated_at),
            suspended_at: opt_rfc3339(row.suspended_at),
        }
    }
}

impl Organization {
    pub fn audit_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

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
        id: new.id.to_string(),
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

pub async fn find(db: &Db, id: &str) -> Result<Option<OrganizationRow>, sqlx::Error> {
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

/// Storefront access needs the tenant to exist and be active.
pub async fn require_active(db: &Db, id: &str) -> ApiResult<OrganizationRow> {
    let row = find(db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    if row.suspended_at.is_some() {
        return Err(suspended());
    }
    Ok(row)
}

/// The caller's organization.
#[utoipa::path(
    get, path = "/admin/organization", tag = "organization",
    responses((status = 200, body = Organization)),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    access: AdminAccess,
) -> ApiResult<ApiJson<Organization>> {
    access.require(Permission::ReadOrganization)?;
    let row = find(&state.db, &access.org_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    Ok(ApiJson(row.into()))
}

/// Settings that can be changed; absent fields stay as they are, `""` clears an optional one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganization {
    pub name: Option<String>,
    pub currency: Option<String>,
    pub timezone: Option<String>,
    pub locale: Option<String>,
    pub support_email: Option<String>,
    pub website: Option<String>,
    /// Tax on tickets in basis points, 0–5,000 (1,000 = 10 %).
    pub tax_bps: Option<i64>,
}

fn optional(value: &str, check: impl Fn(&str) -> ApiResult<String>) -> ApiResult<Option<String>> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        check(value).map(Some)
    }
}

/// Change the caller's organization settings (owners and admins).
#[utoipa::path(
    patch, path = "/admin/organization", tag = "organization",
    request_body = UpdateOrganization,
    responses(
        (status = 200, body = Organization),
        (status = 400, description = "A field is invalid", body = crate::platform::error::Problem),
        (status = 403, description = "Not an owner or admin", body = crate::platform::error::Problem),
    ),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiJson(body): ApiJson<UpdateOrganization>,
) -> ApiResult<ApiJson<Organization>> {
    access.require(Permission::ManageOrganization)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut row = find_in(&state.db, &mut tx, &access.org_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let before = Organization::from(row.clone()).audit_json();
    if let Some(name) = &body.name {
        row.name = validate::text("name", name, 200)?;
    }
    if let Some(currency) = &body.currency {
        row.currency = validate::currency("currency", currency)?;
    }
    if let Some(timezone) = &body.timezone {
        row.timezone = validate::timezone("timezone", timezone)?;
    }
    if let Some(locale) = &body.locale {
        row.locale = validate::locale("locale", locale)?;
    }
    if let Some(email) = &body.support_email {
        row.support_email = optional(email, |v| validate::email("support_email", v))?;
    }
    if let Some(website) = &body.website {
        row.website = optional(website, |v| validate::http_url("website", v))?;
    }
    if let Some(tax) = body.tax_bps {
        row.tax_bps = validate::range("tax_bps", tax, 0, 5_000)?;
    }
    row.updated_at = now;
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
    .bind(now)
    .bind(row.id.clone())
    .bind(row.tax_bps)
    .execute(&mut *tx)
    .await?;
    let after: Organization = row.into();
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "organization.updated",
            target_kind: "organization",
            target_id: &access.org_id,
            before: Some(before),
            after: Some(after.audit_json()),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ApiJson(after))
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

/// Suspends or resumes an organization, recording who did it.
pub async fn set_suspended(
    tx: &mut Tx,
    org_id: &str,
    suspended: bool,
    actor: &super::access::Actor,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE organizations SET suspended_at = $1, updated_at = $2 WHERE id = $3")
        .bind(suspended.then_some(now))
        .bind(now)
        .bind(org_id.to_string())
        .execute(&mut **tx)
        .await?;
    audit::record(
        tx,
        Change {
            org_id: Some(org_id),
            actor,
            action: if suspended {
                "organization.suspended"
            } else {
                "organization.resumed"
            },
            target_kind: "organization",
            target_id: org_id,
            before: None,
            after: Some(json!({ "suspended": suspended })),
        },
        now,
    )
    .await
}
