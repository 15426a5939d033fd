//! The platform-fee routes: parse, authorize, call the service, map the answer.

use axum::extract::{Path, State};

use super::service;
use super::{EffectiveFee, FeeDeal};
use crate::ids::OrgId;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::partners::PartnerAccess;
use crate::tenancy::roles::Permission;

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
    Ok(ApiJson(service::effective(&state, &org).await?))
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
    partner: PartnerAccess,
    Path(org_id): Path<OrgId>,
    ApiJson(deal): ApiJson<FeeDeal>,
) -> ApiResult<ApiJson<EffectiveFee>> {
    deal.validate()?;
    Ok(ApiJson(
        service::set_org_deal(&state, &partner, &org_id, Some(&deal)).await?,
    ))
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
    partner: PartnerAccess,
    Path(org_id): Path<OrgId>,
) -> ApiResult<ApiJson<EffectiveFee>> {
    Ok(ApiJson(
        service::set_org_deal(&state, &partner, &org_id, None).await?,
    ))
}
