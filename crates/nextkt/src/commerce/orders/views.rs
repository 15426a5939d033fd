//! Orders as the API shows them (with lines, payments, tickets and refunds), and the
//! lookups that answer 404 for another organization's order.

use super::{Order, OrderRow, store};
use crate::commerce::refunds;
use crate::ids::{OrderId, OrgId};
use crate::payments::{self, PaymentRow};
use crate::platform::clock::{opt_rfc3339, rfc3339};
use crate::platform::db::Tx;
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::pagination::Page;
use crate::state::AppState;
use crate::tickets;

/// One of an organization's orders (404 when it is not the organization's).
pub async fn find(state: &AppState, org_id: &OrgId, order_id: &OrderId) -> ApiResult<OrderRow> {
    store::find(&state.db, org_id, order_id)
        .await?
        .ok_or_else(|| ApiError::not_found("order"))
}

/// The order of an organization, locked for the rest of the transaction (404 when it is not
/// the organization's).
pub async fn lock_of_org(
    state: &AppState,
    tx: &mut Tx,
    org_id: &OrgId,
    order_id: &OrderId,
) -> ApiResult<OrderRow> {
    match store::lock(&state.db, tx, order_id).await? {
        Some(order) if *org_id == order.organization_id => Ok(order),
        _ => Err(ApiError::not_found("order")),
    }
}

pub async fn view(state: &AppState, row: OrderRow) -> ApiResult<Order> {
    let lines = store::lines(&state.db, &row.id).await?;
    let payments = payments::of_order(&state.db, &row.id)
        .await?
        .iter()
        .map(PaymentRow::to_api)
        .collect();
    let tickets = tickets::of_order(&state.db, &row.id)
        .await?
        .iter()
        .map(|t| t.to_api(&state.base_url))
        .collect();
    let refunds = refunds::of_order(&state.db, &row.id).await?;
    let refunded: i64 = refunds
        .iter()
        .filter(|r| r.status != "failed")
        .map(|r| r.amount)
        .sum();
    let refundable = if row.status.is_paid() {
        row.total - refunded
    } else {
        0
    };
    Ok(Order {
        id: row.id.into_string(),
        event_id: row.event_id.into_string(),
        status: row.status,
        email: row.email,
        name: row.name,
        currency: row.currency,
        subtotal: row.subtotal,
        discount: row.discount,
        points_used: row.points_used,
        points_value: row.points_value,
        tax: row.tax,
        fee: row.fee,
        fee_absorbed: row.fee_absorbed,
        total: row.total,
        lines,
        payment_deadline: rfc3339(row.payment_deadline),
        payments,
        tickets,
        refunds,
        refunded,
        refundable,
        created_at: rfc3339(row.created_at),
        paid_at: opt_rfc3339(row.paid_at),
        livemode: row.livemode != 0,
    })
}

/// A page of orders, each with its lines, payments and tickets.
pub async fn view_page(state: &AppState, page: Page<OrderRow>) -> ApiResult<Page<Order>> {
    let mut items = Vec::with_capacity(page.items.len());
    for row in page.items {
        items.push(view(state, row).await?);
    }
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}
