//! The points routes: parse, authorize, call the service or the store, map the answer.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::service::{self, Adjusting};
use super::{PointsProgram, Rewards, store};
use crate::buyers::access::BuyerAccess;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::roles::Permission;

/// The organization's points program.
#[utoipa::path(
    get, path = "/admin/points-program", tag = "points",
    responses((status = 200, body = PointsProgram)),
    security(("bearer" = []))
)]
pub async fn get_program(
    State(state): State<AppState>,
    access: AdminAccess,
) -> ApiResult<ApiJson<PointsProgram>> {
    access.require(Permission::ReadOrganization)?;
    let org = crate::tenancy::organizations::find(&state.db, &access.org_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    Ok(ApiJson(
        store::program(&state.db, &org.id, &org.currency).await?,
    ))
}

/// Set the organization's points program.
#[utoipa::path(
    put, path = "/admin/points-program", tag = "points",
    request_body = PointsProgram,
    responses((status = 200, body = PointsProgram), (status = 400, body = Problem)),
    security(("bearer" = []))
)]
pub async fn set_program(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiJson(body): ApiJson<PointsProgram>,
) -> ApiResult<ApiJson<PointsProgram>> {
    access.require(Permission::ManageOrganization)?;
    body.validate()?;
    service::set_program(&state, &access.org_id, &access.actor, &body).await?;
    Ok(ApiJson(body))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Adjustment {
    pub buyer_id: String,
    /// Points to add (positive) or take away (negative).
    pub points: i64,
    /// Why, shown in the buyer's history.
    pub note: String,
}

/// Add or remove points by hand (goodwill, corrections). Recorded in the ledger and the
/// audit log.
#[utoipa::path(
    post, path = "/admin/points/adjustments", tag = "points",
    request_body = Adjustment,
    responses((status = 201, body = Rewards), (status = 404, body = Problem),
        (status = 422, description = "`not_enough_points`", body = Problem)),
    security(("bearer" = []))
)]
pub async fn adjust(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiJson(body): ApiJson<Adjustment>,
) -> ApiResult<(StatusCode, ApiJson<Rewards>)> {
    access.require(Permission::ManageOrganization)?;
    validate::range("points", body.points, -10_000_000, 10_000_000)?;
    if body.points == 0 {
        return Err(ApiError::invalid("points", "must not be 0"));
    }
    let note = validate::text("note", &body.note, 200)?;
    let rewards = service::adjust(
        &state,
        Adjusting {
            org_id: &access.org_id,
            actor: &access.actor,
            buyer_id: &body.buyer_id,
            points: body.points,
            note: &note,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(rewards)))
}

/// The logged-in buyer's points: balance, value and history.
#[utoipa::path(
    get, path = "/consumer/rewards", tag = "points",
    responses((status = 200, body = Rewards), (status = 401, body = Problem)),
    security(("internal_key" = [], "tenant" = [], "buyer" = []), ("storefront_key" = [], "buyer" = []))
)]
pub async fn rewards(
    State(state): State<AppState>,
    buyer: BuyerAccess,
) -> ApiResult<ApiJson<Rewards>> {
    Ok(ApiJson(
        service::rewards_of(&state, &buyer.org.id, &buyer.org.currency, &buyer.buyer_id).await?,
    ))
}
