//! The refund routes: parse, authorize, call the service or the store, map the answer.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::Refund;
use super::service::{self, NewRefund, Refunded};
use super::store::{self, Filter};
use crate::ids::OrderId;
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::roles::Permission;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Tickets to refund and void. Absent with no `amount`: the whole order.
    pub ticket_ids: Option<Vec<String>>,
    /// Minor units to give back. With `ticket_ids`: instead of those tickets' price; alone:
    /// money back without voiding anything.
    pub amount: Option<i64>,
    /// Put the voided tickets' units and seats back on sale (default true).
    pub return_to_sale: Option<bool>,
    pub reason: Option<String>,
}

/// Refund an order, some of its tickets, or an amount.
#[utoipa::path(
    post, path = "/admin/orders/{order_id}/refunds", tag = "orders",
    params(("order_id" = String, Path)),
    request_body = RefundRequest,
    responses(
        (status = 201, body = Refund),
        (status = 400, body = Problem),
        (status = 404, body = Problem),
        (status = 422, description = "`order_not_paid`, `ticket_not_refundable`, `refund_exceeds_paid`", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(order_id): Path<OrderId>,
    ApiJson(body): ApiJson<RefundRequest>,
) -> ApiResult<(StatusCode, ApiJson<Refund>)> {
    access.require(Permission::ManageOrders)?;
    let reason = body
        .reason
        .as_deref()
        .map(|r| validate::text("reason", r, 500))
        .transpose()?;
    let refunded = service::refund(
        &state,
        NewRefund {
            org_id: &access.org_id,
            order_id: &order_id,
            actor: &access.actor,
            ticket_ids: body.ticket_ids.as_deref(),
            amount: body.amount,
            return_to_sale: body.return_to_sale.unwrap_or(true),
            reason,
        },
    )
    .await?;
    let Refunded {
        id,
        order_id,
        amount,
        currency,
        tickets_voided,
        return_to_sale,
        reason,
        created_at,
    } = refunded;
    Ok((
        StatusCode::CREATED,
        ApiJson(Refund {
            id,
            order_id,
            amount,
            currency,
            status: "requested".into(),
            tickets_voided: tickets_voided as i64,
            return_to_sale,
            reason,
            created_at: rfc3339(created_at),
            completed_at: None,
        }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RefundFilter {
    /// `requested`, `pending`, `succeeded` or `failed`.
    pub status: Option<String>,
    pub order_id: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The organization's refunds, newest first, optionally by status or order.
#[utoipa::path(
    get, path = "/admin/refunds", tag = "orders",
    params(RefundFilter),
    responses((status = 200, body = Page<Refund>), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    access: AdminAccess,
    Query(filter): Query<RefundFilter>,
) -> ApiResult<ApiJson<Page<Refund>>> {
    access.require(Permission::ReadOrders)?;
    if let Some(status) = &filter.status
        && !matches!(
            status.as_str(),
            "requested" | "pending" | "succeeded" | "failed"
        )
    {
        return Err(ApiError::invalid(
            "status",
            "one of requested, pending, succeeded, failed",
        ));
    }
    let page = PageParams {
        limit: filter.limit,
        cursor: filter.cursor.clone(),
    }
    .parse()?;
    let refunds = store::of_org(
        &state.db,
        &access.org_id,
        Filter {
            before: &page.bound(),
            status: filter.status.as_deref().unwrap_or_default(),
            order_id: filter.order_id.as_deref().unwrap_or_default(),
            limit: page.fetch_limit(),
        },
    )
    .await?;
    Ok(ApiJson(page.finish(refunds, |r| &r.id)))
}

/// One refund.
#[utoipa::path(
    get, path = "/admin/refunds/{refund_id}", tag = "orders",
    params(("refund_id" = String, Path)),
    responses((status = 200, body = Refund), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(refund_id): Path<String>,
) -> ApiResult<ApiJson<Refund>> {
    access.require(Permission::ReadOrders)?;
    let refund = store::find(&state.db, &access.org_id, &refund_id).await?;
    Ok(ApiJson(
        refund.ok_or_else(|| ApiError::not_found("refund"))?,
    ))
}
