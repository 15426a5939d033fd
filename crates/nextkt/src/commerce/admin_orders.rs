//! The operators' order routes: search, detail, resend the confirmation, cancel an unpaid
//! order. Parse, authorize, call the orders service, map the answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::orders::{self, Order, find, view, view_page};
use crate::ids::OrderId;
use crate::platform::error::{ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::roles::Permission;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderFilter {
    /// The buyer's email (any letter case).
    pub email: Option<String>,
    /// `pending_payment`, `paid`, `partially_refunded`, `refunded`, `expired`, `cancelled`.
    pub status: Option<String>,
    pub event_id: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The organization's orders, newest first, optionally by email, status or event.
#[utoipa::path(
    get, path = "/admin/orders", tag = "orders",
    params(OrderFilter),
    responses((status = 200, body = Page<Order>), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiQuery(filter): ApiQuery<OrderFilter>,
) -> ApiResult<ApiJson<Page<Order>>> {
    access.require(Permission::ReadOrders)?;
    let page = PageParams {
        limit: filter.limit,
        cursor: filter.cursor.clone(),
    }
    .parse()?;
    let email = filter
        .email
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_lowercase();
    let rows = orders::of_org(
        &state.db,
        &access.org_id,
        orders::Filter {
            before: &page.bound(),
            email: &email,
            status: filter.status.as_deref().unwrap_or_default(),
            event_id: filter.event_id.as_deref().unwrap_or_default(),
            limit: page.fetch_limit(),
        },
    )
    .await?;
    Ok(ApiJson(
        view_page(&state, page.finish(rows, |r| &r.id)).await?,
    ))
}

/// One order, with its lines, payments and tickets.
#[utoipa::path(
    get, path = "/admin/orders/{order_id}", tag = "orders",
    params(("order_id" = String, Path)),
    responses((status = 200, body = Order), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(order_id): Path<OrderId>,
) -> ApiResult<ApiJson<Order>> {
    access.require(Permission::ReadOrders)?;
    Ok(ApiJson(
        view(&state, find(&state, &access.org_id, &order_id).await?).await?,
    ))
}

/// Send the order's confirmation (with its ticket links) again.
#[utoipa::path(
    post, path = "/admin/orders/{order_id}/resend", tag = "orders",
    params(("order_id" = String, Path)),
    responses((status = 202, description = "Queued"), (status = 404, body = Problem),
        (status = 422, description = "The order is not paid (`order_not_paid`)", body = Problem)),
    security(("bearer" = []))
)]
pub async fn resend(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(order_id): Path<OrderId>,
) -> ApiResult<StatusCode> {
    access.require(Permission::ManageOrders)?;
    orders::resend_confirmation(&state, &access.org_id, &access.actor, &order_id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Cancel an unpaid order: its holds go back on sale at once, and the code's use and the
/// points return.
#[utoipa::path(
    post, path = "/admin/orders/{order_id}/cancel", tag = "orders",
    params(("order_id" = String, Path)),
    responses((status = 200, body = Order), (status = 404, body = Problem),
        (status = 422, description = "Only unpaid orders can be cancelled (`order_not_pending`)", body = Problem)),
    security(("bearer" = []))
)]
pub async fn cancel(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(order_id): Path<OrderId>,
) -> ApiResult<ApiJson<Order>> {
    access.require(Permission::ManageOrders)?;
    let order = orders::cancel(&state, &access.org_id, &access.actor, &order_id).await?;
    Ok(ApiJson(view(&state, order).await?))
}
