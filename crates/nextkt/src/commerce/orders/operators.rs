//! What operators do to an order besides refunding it: send its confirmation again, cancel
//! it while unpaid. Each is one transaction with its audit entry.

use serde_json::json;

use super::closing::close_unpaid;
use super::views::find;
use super::{OrderRow, OrderStatus};
use crate::ids::{OrderId, OrgId};
use crate::notify::outbox::{self, Email};
use crate::platform::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::tenancy::access::Actor;
use crate::tenancy::audit::{self, Change};

/// Queues the order's confirmation (with the links of the tickets its buyer still holds)
/// again.
#[tracing::instrument(skip_all, fields(org_id = %org_id, order_id = %order_id))]
pub async fn resend_confirmation(
    state: &AppState,
    org_id: &OrgId,
    actor: &Actor,
    order_id: &OrderId,
) -> ApiResult<()> {
    let order = find(state, org_id, order_id).await?;
    if !order.status.is_paid() {
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
            org_id: Some(org_id),
            actor,
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
    Ok(())
}

/// Cancels an unpaid order: its holds go back on sale at once, the code's use and the
/// points return. Answers the order as it is now.
#[tracing::instrument(skip_all, fields(org_id = %org_id, order_id = %order_id))]
pub async fn cancel(
    state: &AppState,
    org_id: &OrgId,
    actor: &Actor,
    order_id: &OrderId,
) -> ApiResult<OrderRow> {
    let now = state.clock.now_ms();
    let order = find(state, org_id, order_id).await?;
    let mut tx = state.db.begin().await?;
    if !close_unpaid(state, &mut tx, &order.id, OrderStatus::Cancelled, now).await? {
        return Err(ApiError::rule(
            "order_not_pending",
            "only an unpaid order can be cancelled",
        ));
    }
    crate::inventory::holds::release_order(&state.db, &mut tx, &order.id, now).await?;
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor,
            action: "order.cancelled",
            target_kind: "order",
            target_id: &order.id,
            before: Some(json!({ "status": order.status })),
            after: Some(json!({ "status": OrderStatus::Cancelled })),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    find(state, org_id, order_id).await
}
