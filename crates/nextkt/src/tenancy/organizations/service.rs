//! The rules of organizations: who finds one, changing its settings, suspending it; each
//! change in one transaction with its audit entry.

use serde_json::json;

use super::Organization;
use super::store::{self, OrganizationRow};
use crate::ids::OrgId;
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};
use crate::platform::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::tenancy::access::{Actor, suspended};
use crate::tenancy::audit::{self, Change};

/// The organization, or 404.
pub async fn get(db: &Db, org_id: &OrgId) -> ApiResult<OrganizationRow> {
    store::find(db, org_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))
}

/// Storefront access needs the tenant to exist and be active.
#[tracing::instrument(skip_all, fields(org_id = %id))]
pub async fn require_active(db: &Db, id: &str) -> ApiResult<OrganizationRow> {
    // The tenant named by a storefront request (`x-tenant` or a key) becomes an id here.
    let row = get(db, &OrgId::from(id)).await?;
    if row.suspended_at.is_some() {
        return Err(suspended());
    }
    Ok(row)
}

/// New settings, already validated; `None` leaves a setting as it is, and for the optional
/// ones `Some(None)` clears it.
pub struct Settings {
    pub name: Option<String>,
    pub currency: Option<String>,
    pub timezone: Option<String>,
    pub locale: Option<String>,
    pub support_email: Option<Option<String>>,
    pub website: Option<Option<String>>,
    pub tax_bps: Option<i64>,
}

/// Changes the organization's settings.
#[tracing::instrument(skip_all, fields(org_id = %org_id))]
pub async fn update(
    state: &AppState,
    org_id: &OrgId,
    actor: &Actor,
    settings: Settings,
) -> ApiResult<Organization> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut row = store::find_in(&state.db, &mut tx, org_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let before = Organization::from(row.clone()).audit_json();
    let Settings {
        name,
        currency,
        timezone,
        locale,
        support_email,
        website,
        tax_bps,
    } = settings;
    if let Some(name) = name {
        row.name = name;
    }
    if let Some(currency) = currency {
        row.currency = currency;
    }
    if let Some(timezone) = timezone {
        row.timezone = timezone;
    }
    if let Some(locale) = locale {
        row.locale = locale;
    }
    if let Some(email) = support_email {
        row.support_email = email;
    }
    if let Some(website) = website {
        row.website = website;
    }
    if let Some(tax) = tax_bps {
        row.tax_bps = tax;
    }
    row.updated_at = now;
    store::update_settings(&mut tx, &row).await?;
    let after: Organization = row.into();
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor,
            action: "organization.updated",
            target_kind: "organization",
            target_id: org_id,
            before: Some(before),
            after: Some(after.audit_json()),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Suspends or resumes an organization, recording who did it.
pub async fn set_suspended(
    tx: &mut Tx,
    org_id: &OrgId,
    suspended: bool,
    actor: &Actor,
    now: Millis,
) -> Result<(), sqlx::Error> {
    store::set_suspended_at(tx, org_id, suspended, now).await?;
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
