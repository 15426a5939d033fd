//! The platform fee Nextkt earns per ticket. A *deal* is a fee rule in one currency; the
//! deal that applies to an organization is its own, else its partner's, else the
//! platform's (from configuration). Each event says who pays it: the buyer (added to the
//! total) or the organizer (deducted from the settlement).

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::pricing::FeeRule;
use crate::platform::db::Db;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::organizations::OrganizationRow;
use crate::tenancy::roles::Permission;

/// A fee rule and the currency its fixed, minimum and maximum amounts are in. In another
/// currency only the percentage applies (amounts do not convert).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeeDeal {
    /// Minor units per ticket.
    pub fixed: i64,
    /// Basis points of the ticket's price (250 = 2.5 %).
    pub bps: i64,
    /// Least fee per paid ticket, minor units.
    pub min: i64,
    /// Most fee per ticket, minor units (none when absent).
    pub max: Option<i64>,
    pub currency: String,
}

impl FeeDeal {
    pub fn validate(&self) -> ApiResult<()> {
        validate::range("fixed", self.fixed, 0, 1_000_000_000)?;
        validate::range("bps", self.bps, 0, 5_000)?;
        validate::range("min", self.min, 0, 1_000_000_000)?;
        if let Some(max) = self.max
            && max < self.min
        {
            return Err(ApiError::invalid("max", "cannot be below min"));
        }
        validate::currency("currency", &self.currency)?;
        Ok(())
    }

    /// The rule for tickets priced in `currency`.
    pub fn rule_for(&self, currency: &str) -> FeeRule {
        if currency == self.currency {
            FeeRule {
                fixed: self.fixed,
                bps: self.bps,
                min: self.min,
                max: self.max,
            }
        } else {
            FeeRule {
                fixed: 0,
                bps: self.bps,
                min: 0,
                max: None,
            }
        }
    }
}

/// Where the applying deal comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DealSource {
    Organization,
    Partner,
    Platform,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EffectiveFee {
    pub deal: FeeDeal,
    pub source: DealSource,
}

fn parse(json: Option<&str>) -> Option<FeeDeal> {
    json.and_then(|j| serde_json::from_str(j).ok())
}

/// The deal that applies to `org`.
pub async fn effective(state: &AppState, org: &OrganizationRow) -> ApiResult<EffectiveFee> {
    if let Some(deal) = parse(org.fee_json.as_deref()) {
        return Ok(EffectiveFee {
            deal,
            source: DealSource::Organization,
        });
    }
    if let Some(partner) = &org.partner_id {
        let json: Option<Option<String>> =
            sqlx::query_scalar("SELECT fee_json FROM partners WHERE id = $1")
                .bind(partner.clone())
                .fetch_optional(&state.db.pool)
                .await?;
        if let Some(deal) = parse(json.flatten().as_deref()) {
            return Ok(EffectiveFee {
                deal,
                source: DealSource::Partner,
            });
        }
    }
    Ok(EffectiveFee {
        deal: state.config.platform_fee(),
        source: DealSource::Platform,
    })
}

/// Sets (or with `None` clears) a partner's deal, for `nextkt partner fee`.
pub async fn set_partner_deal(
    db: &Db,
    partner_id: &str,
    deal: Option<&FeeDeal>,
) -> anyhow::Result<()> {
    let json = deal.map(serde_json::to_string).transpose()?;
    let found = crate::tenancy::partners::set_fee_json(db, partner_id, json.as_deref()).await?;
    anyhow::ensure!(found, "no partner {partner_id}");
    Ok(())
}

/// The platform fee deal that applies to the caller's organization, and where it comes from.
#[utoipa::path(
    get, path = "/admin/platform-fee", tag = "organization",
    responses((status = 200, body = EffectiveFee)),
    security(("bearer" = []))
)]
pub async fn show(
    State(state): State<AppState>,
    access: AdminAccess,
) -> ApiResult<ApiJson<EffectiveFee>> {
    access.require(Permission::ReadOrganization)?;
    let org = crate::tenancy::organizations::find(&state.db, &access.org_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    Ok(ApiJson(effective(&state, &org).await?))
}

/// Set the platform fee deal of one of this partner's organizations (`null` body fields are
/// not allowed; DELETE returns it to the partner's deal).
#[utoipa::path(
    put, path = "/partner/organizations/{org_id}/fee", tag = "partner",
    params(("org_id" = String, Path)),
    request_body = FeeDeal,
    responses((status = 200, body = EffectiveFee), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn set_for_organization(
    State(state): State<AppState>,
    partner: crate::tenancy::partners::PartnerAccess,
    Path(org_id): Path<String>,
    ApiJson(deal): ApiJson<FeeDeal>,
) -> ApiResult<ApiJson<EffectiveFee>> {
    deal.validate()?;
    write_org_deal(&state, &partner, &org_id, Some(&deal)).await
}

/// Return one of this partner's organizations to the partner's fee deal.
#[utoipa::path(
    delete, path = "/partner/organizations/{org_id}/fee", tag = "partner",
    params(("org_id" = String, Path)),
    responses((status = 200, body = EffectiveFee), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn clear_for_organization(
    State(state): State<AppState>,
    partner: crate::tenancy::partners::PartnerAccess,
    Path(org_id): Path<String>,
) -> ApiResult<ApiJson<EffectiveFee>> {
    write_org_deal(&state, &partner, &org_id, None).await
}

async fn write_org_deal(
    state: &AppState,
    partner: &crate::tenancy::partners::PartnerAccess,
    org_id: &str,
    deal: Option<&FeeDeal>,
) -> ApiResult<ApiJson<EffectiveFee>> {
    let org = crate::tenancy::partners::owned(state, partner, org_id).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let json = deal.map(|d| serde_json::to_string(d).unwrap_or_default());
    crate::tenancy::organizations::set_fee_json(&mut tx, &org.id, json.as_deref(), now).await?;
    crate::tenancy::audit::record(
        &mut tx,
        crate::tenancy::audit::Change {
            org_id: Some(&org.id),
            actor: &partner.actor(),
            action: "organization.fee_deal_changed",
            target_kind: "organization",
            target_id: &org.id,
            before: org
                .fee_json
                .as_deref()
                .and_then(|j| serde_json::from_str(j).ok()),
            after: deal.and_then(|d| serde_json::to_value(d).ok()),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    let org = crate::tenancy::organizations::find(&state.db, &org.id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    Ok(ApiJson(effective(state, &org).await?))
}
