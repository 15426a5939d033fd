//! Refunds by operators: a whole order, some of its tickets, or an amount. Tickets refunded
//! are voided at once (their page says so; scanners refuse them); their units or seats go
//! back on sale when the operator chooses; points earned on the refunded part are taken
//! back and points spent on it returned. The money goes back through the provider that took
//! it (payments/refunds.rs), tracked until the provider completes it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::orders::{OrderLine, find};
use super::points::{self, Movement};
use super::pricing::allocate;
use crate::app::AppState;
use crate::inventory::convert::{self, Claimed};
use crate::notify::outbox::{self, Email};
use crate::payments;
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::validate;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::audit::{self, Change};
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

#[derive(Debug, Serialize, ToSchema)]
pub struct Refund {
    pub id: String,
    pub order_id: String,
    pub amount: i64,
    pub currency: String,
    /// `requested` (being sent to the provider), `pending` (the provider is on it),
    /// `succeeded` or `failed`.
    pub status: String,
    pub tickets_voided: i64,
    pub return_to_sale: bool,
    pub reason: Option<String>,
    pub created_at: String,
    pub completed_at: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SoldTicket {
    id: String,
    ticket_type_id: String,
    seat_id: Option<String>,
}

/// What each of an order's tickets cost: each line's total spread over its tickets exactly.
async fn ticket_prices(state: &AppState, order_id: &str) -> ApiResult<Vec<(String, i64)>> {
    let lines: Vec<OrderLine> = sqlx::query_as(
        "SELECT ticket_type_id, name, quantity, unit_price, discount, points_value, tax, fee_per_ticket, fee, total \
         FROM order_lines WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id.to_string())
    .fetch_all(&state.db.pool)
    .await?;
    let mut prices = Vec::new();
    for line in lines {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM tickets WHERE order_id = $1 AND ticket_type_id = $2 ORDER BY id",
        )
        .bind(order_id.to_string())
        .bind(line.ticket_type_id.clone())
        .fetch_all(&state.db.pool)
        .await?;
        let shares = allocate(line.total, &vec![1; ids.len()]);
        prices.extend(ids.into_iter().zip(shares));
    }
    Ok(prices)
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
    Path(order_id): Path<String>,
    ApiJson(body): ApiJson<RefundRequest>,
) -> ApiResult<(StatusCode, ApiJson<Refund>)> {
    access.require(Permission::ManageOrders)?;
    let order = find(&state, &access.org_id, &order_id).await?;
    if !matches!(order.status.as_str(), "paid" | "partially_refunded") {
        return Err(ApiError::rule(
            "order_not_paid",
            "only a paid order can be refunded",
        ));
    }
    let reason = body
        .reason
        .as_deref()
        .map(|r| validate::text("reason", r, 500))
        .transpose()?;
    let return_to_sale = body.return_to_sale.unwrap_or(true);
    let prices = ticket_prices(&state, &order.id).await?;
    let sold: Vec<SoldTicket> = sqlx::query_as(
        "SELECT id, ticket_type_id, seat_id FROM tickets WHERE order_id = $1 AND status = 'valid' ORDER BY id",
    )
    .bind(order.id.clone())
    .fetch_all(&state.db.pool)
    .await?;
    let refunded: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM refunds WHERE order_id = $1 AND status <> 'failed'",
    )
    .bind(order.id.clone())
    .fetch_one(&state.db.pool)
    .await?;
    let remaining = order.total - refunded;
    let (voided, price): (Vec<&SoldTicket>, i64) = match (&body.ticket_ids, body.amount) {
        (None, None) => (sold.iter().collect(), remaining),
        (None, Some(amount)) => (Vec::new(), amount),
        (Some(ids), amount) => {
            if ids.is_empty() {
                return Err(ApiError::invalid(
                    "ticket_ids",
                    "name at least one ticket, or leave ticket_ids out",
                ));
            }
            let mut chosen = Vec::new();
            for id in ids {
                let ticket = sold.iter().find(|t| &t.id == id).ok_or_else(|| {
                    ApiError::rule(
                        "ticket_not_refundable",
                        format!("ticket {id} is not a valid ticket of this order"),
                    )
                })?;
                if !chosen.iter().any(|t: &&SoldTicket| t.id == ticket.id) {
                    chosen.push(ticket);
                }
            }
            let worth: i64 = chosen
                .iter()
                .map(|t| {
                    prices
                        .iter()
                        .find(|(id, _)| *id == t.id)
                        .map(|(_, p)| *p)
                        .unwrap_or(0)
                })
                .sum();
            (chosen, amount.unwrap_or(worth.min(remaining)))
        }
    };
    if price < 0 || (price == 0 && voided.is_empty()) {
        return Err(ApiError::invalid("amount", "must be positive"));
    }
    if price > remaining {
        return Err(ApiError::rule(
            "refund_exceeds_paid",
            format!("at most {remaining} {} is left to refund", order.currency),
        ));
    }

    let now = state.clock.now_ms();
    let paid: Option<(String, String)> =
        sqlx::query_as("SELECT id, provider FROM payments WHERE order_id = $1 AND status = 'paid' ORDER BY id LIMIT 1")
            .bind(order.id.clone())
            .fetch_optional(&state.db.pool)
            .await?;
    // Free orders took no money: nothing goes to a provider.
    let (payment_id, provider) =
        paid.unwrap_or_else(|| (String::new(), payments::SIMULATED.to_string()));
    let mut tx = state.db.begin().await?;
    let refund_id = payments::refunds::request(
        &mut tx,
        payments::refunds::Request {
            org_id: &order.organization_id,
            order_id: &order.id,
            payment_id: (!payment_id.is_empty()).then_some(payment_id.as_str()),
            provider: &provider,
            amount: price,
            currency: &order.currency,
            reason: reason.as_deref(),
            return_to_sale,
            created_by_kind: access.actor.kind.as_str(),
            created_by_id: &access.actor.id,
        },
        now,
    )
    .await?;
    for ticket in &voided {
        let done = sqlx::query(
            "UPDATE tickets SET status = 'void', voided_at = $1, refund_id = $2, \
             inventory_released_at = CASE WHEN $3 = 1 THEN $1 ELSE NULL END WHERE id = $4 AND status = 'valid'",
        )
        .bind(now)
        .bind(refund_id.clone())
        .bind(i64::from(return_to_sale))
        .bind(ticket.id.clone())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(ApiError::conflict(
                "ticket_changed",
                "a ticket changed meanwhile; try again",
            ));
        }
    }
    if !voided.is_empty() {
        // Voided tickets must be refused by the next offline bundle too.
        crate::gate::bundle::bump_version(&mut tx, &order.organization_id).await?;
    }
    if return_to_sale {
        let released: Vec<Claimed> = voided
            .iter()
            .map(|t| Claimed {
                ticket_type_id: t.ticket_type_id.clone(),
                seat_id: t.seat_id.clone(),
            })
            .collect();
        convert::release_sold(&state.db, &mut tx, &released, now).await?;
    }
    let all_back = refunded + price >= order.total || voided.len() == sold.len();
    sqlx::query("UPDATE orders SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(if all_back {
            "refunded"
        } else {
            "partially_refunded"
        })
        .bind(now)
        .bind(order.id.clone())
        .execute(&mut *tx)
        .await?;
    // Points follow the money: earned points on the refunded share are taken back (as far
    // as the buyer still has them), spent points on it are returned.
    if let Some(buyer_id) = &order.buyer_id
        && order.total > 0
    {
        let earned: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(delta), 0) AS BIGINT) FROM points_ledger WHERE reference_id = $1 AND kind = 'earn'",
        )
        .bind(order.id.clone())
        .fetch_one(&mut *tx)
        .await?;
        let share =
            |points: i64| (i128::from(points) * i128::from(price) / i128::from(order.total)) as i64;
        let movement = Movement {
            org_id: &order.organization_id,
            buyer_id,
            kind: "reversal",
            reference_id: Some(&order.id),
            note: Some("refund"),
        };
        let take = share(earned).min(points::balance(&state.db, buyer_id, now).await?);
        points::debit(&state.db, &mut tx, &movement, take, now).await?;
        let program = points::program(&state.db, &order.organization_id, &order.currency).await?;
        points::credit(
            &mut tx,
            &movement,
            share(order.points_used),
            program.expiry_days,
            now,
        )
        .await?;
    }
    outbox::enqueue(
        &mut tx,
        Email {
            organization_id: Some(&order.organization_id),
            template: "refund",
            locale: &order.locale,
            to: &order.email,
            payload: json!({ "order_id": order.id, "name": order.name, "amount": price, "currency": order.currency,
                "tickets": voided.len(), "reason": reason }),
        },
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "order.refunded",
            target_kind: "order",
            target_id: &order.id,
            before: Some(json!({ "status": order.status })),
            after: Some(json!({ "refund_id": refund_id, "amount": price, "tickets": voided.iter().map(|t| &t.id).collect::<Vec<_>>(),
                "return_to_sale": return_to_sale })),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    metrics::counter!("nextkt_refunds_total").increment(1);
    Ok((
        StatusCode::CREATED,
        ApiJson(Refund {
            id: refund_id,
            order_id: order.id,
            amount: price,
            currency: order.currency,
            status: "requested".into(),
            tickets_voided: voided.len() as i64,
            return_to_sale,
            reason,
            created_at: rfc3339(now),
            completed_at: None,
        }),
    ))
}
