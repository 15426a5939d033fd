//! Which fee deal applies to an organization, and changing an organization's or a
//! partner's deal (the rows are tenancy's; the audit entry goes with the change).

use super::{DealSource, EffectiveFee, FeeDeal, store};
use crate::ids::OrgId;
use crate::platform::db::Db;
use crate::platform::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::tenancy::organizations::OrganizationRow;
use crate::tenancy::partners::PartnerAccess;

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
        let json = store::partner_fee_json(&state.db, partner).await?;
        if let Some(deal) = parse(json.as_deref()) {
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

/// Sets (or with `None` clears) the deal of one of the partner's organizations; answers
/// the deal that applies after.
#[tracing::instrument(skip_all, fields(org_id = %org_id))]
pub async fn set_org_deal(
    state: &AppState,
    partner: &PartnerAccess,
    org_id: &OrgId,
    deal: Option<&FeeDeal>,
) -> ApiResult<EffectiveFee> {
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
    effective(state, &org).await
}
