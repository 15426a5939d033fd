//! Routes that change what a company owns (internal key only).

use axum::extract::{Path, State};

use super::service::{self, Origin, SetAddon, SetSubscription};
use crate::core::entitlements::Snapshot;
use crate::ids::CompanyId;
use crate::platform::error::{ApiResult, Problem};
use crate::platform::internal_key::InternalCaller;
use crate::platform::json::ApiJson;
use crate::state::AppState;

/// Sets the company's base subscription: starts one, moves its status, or (with
/// `"switch": true`) replaces it with another package. Exactly one is live per company,
/// enforced by the database. Answers the entitlements after.
#[utoipa::path(put, path = "/internal/companies/{id}/subscription", tag = "entitlements",
    params(("id" = String, Path)), request_body = SetSubscription,
    responses(
        (status = 200, body = Snapshot),
        (status = 400, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`package_switch_required`, `no_live_subscription`, `subscription_conflict`", body = Problem),
        (status = 422, description = "`unknown_package`, `trial_not_available`, `trial_already_used`, `invalid_transition`", body = Problem),
    ),
    security(("internal_key" = [])))]
pub async fn set_subscription(
    State(state): State<AppState>,
    _caller: InternalCaller,
    Path(id): Path<CompanyId>,
    ApiJson(body): ApiJson<SetSubscription>,
) -> ApiResult<ApiJson<Snapshot>> {
    let origin = Origin::parse(body.actor.as_deref(), body.source.as_deref())?;
    let mut tx = state.db.begin().await?;
    let snapshot = service::set_subscription(&state, &mut tx, &id, &body, &origin).await?;
    tx.commit().await?;
    Ok(ApiJson(snapshot))
}

/// Sets the company's row of an addon. A live addon needs a live base subscription whose
/// persona the addon accepts. Answers the entitlements after.
#[utoipa::path(put, path = "/internal/companies/{id}/addons/{addonKey}", tag = "entitlements",
    params(("id" = String, Path), ("addonKey" = String, Path)), request_body = SetAddon,
    responses(
        (status = 200, body = Snapshot),
        (status = 400, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`addon_not_active`", body = Problem),
        (status = 422, description = "`base_subscription_required`, `addon_not_available`, `trial_not_available`, `trial_already_used`, `invalid_transition`", body = Problem),
    ),
    security(("internal_key" = [])))]
pub async fn set_addon(
    State(state): State<AppState>,
    _caller: InternalCaller,
    Path((id, addon)): Path<(CompanyId, String)>,
    ApiJson(body): ApiJson<SetAddon>,
) -> ApiResult<ApiJson<Snapshot>> {
    let origin = Origin::parse(body.actor.as_deref(), body.source.as_deref())?;
    let mut tx = state.db.begin().await?;
    let snapshot = service::set_addon(&state, &mut tx, &id, &addon, &body, &origin).await?;
    tx.commit().await?;
    Ok(ApiJson(snapshot))
}
