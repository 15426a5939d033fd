//! The discount code routes: parse, authorize, call the service or the store, map the
//! answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::{Discount, DiscountInput, DiscountRow, service, store};
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::roles::Permission;

/// Create a discount code.
#[utoipa::path(
    post, path = "/admin/discounts", tag = "discounts",
    request_body = DiscountInput,
    responses((status = 201, body = Discount), (status = 400, body = Problem),
        (status = 404, description = "An event or ticket type named is not the organization's", body = Problem),
        (status = 409, description = "The code exists (`code_taken`)", body = Problem)),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiJson(input): ApiJson<DiscountInput>,
) -> ApiResult<(StatusCode, ApiJson<Discount>)> {
    access.require(Permission::ManageCatalog)?;
    let discount = service::create(&state, &access.org_id, &access.actor, &input).await?;
    Ok((StatusCode::CREATED, ApiJson(discount)))
}

/// Change a discount code (its code stays).
#[utoipa::path(
    patch, path = "/admin/discounts/{discount_id}", tag = "discounts",
    params(("discount_id" = String, Path)),
    request_body = DiscountInput,
    responses((status = 200, body = Discount), (status = 400, body = Problem),
        (status = 404, description = "No such discount, or an event or ticket type named is not the organization's", body = Problem)),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(discount_id): Path<String>,
    ApiJson(input): ApiJson<DiscountInput>,
) -> ApiResult<ApiJson<Discount>> {
    access.require(Permission::ManageCatalog)?;
    let discount =
        service::update(&state, &access.org_id, &access.actor, &discount_id, &input).await?;
    Ok(ApiJson(discount))
}

/// One discount code.
#[utoipa::path(
    get, path = "/admin/discounts/{discount_id}", tag = "discounts",
    params(("discount_id" = String, Path)),
    responses((status = 200, body = Discount), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(discount_id): Path<String>,
) -> ApiResult<ApiJson<Discount>> {
    access.require(Permission::ReadOrganization)?;
    let row = store::find(&state.db, &access.org_id, &discount_id)
        .await?
        .ok_or_else(|| ApiError::not_found("discount"))?;
    Ok(ApiJson(row.into_api()))
}

/// The organization's discount codes, newest first.
#[utoipa::path(
    get, path = "/admin/discounts", tag = "discounts",
    params(PageParams),
    responses((status = 200, body = Page<Discount>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<Discount>>> {
    access.require(Permission::ReadOrganization)?;
    let page = page.parse()?;
    let rows = store::of_org(&state.db, &access.org_id, &page.bound(), page.fetch_limit()).await?;
    Ok(ApiJson(
        page.finish(rows, |r| &r.id).map(DiscountRow::into_api),
    ))
}
