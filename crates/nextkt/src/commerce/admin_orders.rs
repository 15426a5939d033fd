//! Orders for operators: search, detail, resend the confirmation, cancel an unpaid order.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use super::orders::{ORDER_COLUMNS, Order, OrderRow, find, view, view_page};
use crate::notify::outbox::{self, Email};
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::audit::{self, Change};
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
    let rows: Vec<OrderRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE organization_id = $1 AND ($2 = '' OR id < $2) \
         AND ($3 = '' OR email = $3) AND ($4 = '' OR status = $4) AND ($5 = '' OR event_id = $5) \
         ORDER BY id DESC LIMIT $6"
    )))
    .bind(access.org_id.clone())
    .bind(page.bound())
    .bind(
        filter
            .email
            .as_deref()
            .unwrap_or_default()
            .trim()
            .to_lowercase(),
    )
    .bind(filter.status.clone().unwrap_or_default())
    .bind(filter.event_id.clone().unwrap_or_default())
    .bind(page.fetch_limit())
    .fetch_all(&state.db.pool)
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
    Path(order_id): Path<String>,
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
    Path(order_id): Path<String>,
) -> ApiResult<StatusCode> {
    access.require(Permission::ManageOrders)?;
    let order = find(&state, &access.org_id, &order_id).await?;
    if !matches!(order.status.as_str(), "paid" | "partially_refunded") {
        return Err(ApiError::rule(
            "order_not_paid",
            "only a paid order has tickets to send",
        ));
    }
    let tickets = crate::tickets::of_order(&state.db, &order.id).await?;
    let links: Vec<serde_json::Value> = tickets
        .iter()
        // A transferred ticket's code belongs to its new holder, not to the order's buyer.
        .filter(|t| t.status == "valid" && t.transferred_at.is_none())
        .map(|t| json!({ "url": format!("{}/t/{}", state.base_url, t.code), "holder": t.holder_name, "qr_payload": t.qr_payload }))
        .collect();
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    outbox::enqueue(
        &mut tx,
        Email {
            organization_id: Some(&order.organization_id),
            template: "order_confirmation",
            locale: &order.locale,
            to: &order.email,
            payload: json!({ "order_id": order.id, "name": order.name, "total": order.total, "currency": order.currency,
                "subtotal": order.subtotal, "discount": order.discount, "points_value": order.points_value,
                "tax": order.tax, "fee": order.fee, "tickets": links }),
        },
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "order.confirmation_resent",
            target_kind: "order",
            target_id: &order.id,
            before: None,
            after: None,
        },
        now,
    )
    .await?;
    tx.commit().await?;
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
    Path(order_id): Path<String>,
) -> ApiResult<ApiJson<Order>> {
    access.require(Permission::ManageOrders)?;
    let now = state.clock.now_ms();
    let order = find(&state, &access.org_id, &order_id).await?;
    let mut tx = state.db.begin().await?;
    if !super::orders::close_unpaid(&state, &mut tx, &order.id, "cancelled", now).await? {
        return Err(ApiError::rule(
            "order_not_pending",
            "only an unpaid order can be cancelled",
        ));
    }
    crate::inventory::holds::release_order(&state.db, &mut tx, &order.id, now).await?;
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "order.cancelled",
            target_kind: "order",
            target_id: &order.id,
            before: Some(json!({ "status": order.status })),
            after: Some(json!({ "status": "cancelled" })),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ApiJson(
        view(&state, find(&state, &access.org_id, &order_id).await?).await?,
    ))
}
