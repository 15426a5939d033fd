//! Refunds by operators: a whole order, some of its tickets, or an amount. Tickets refunded
//! are voided at once (their page says so; scanners refuse them); their units or seats go
//! back on sale when the operator chooses; points earned on the refunded part are taken
//! back and points spent on it returned. The money goes back through the provider that took
//! it (payments/refunds.rs), tracked until the provider completes it.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::orders::{OrderLine, find, lock_of_org};
use super::points::{self, Movement};
use super::pricing::allocate;
use crate::inventory::convert::{self, Claimed};
use crate::notify::outbox::{self, Email};
use crate::payments;
use crate::platform::clock::rfc3339;
use crate::platform::db::Tx;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::audit::{self, Change};
use crate::tenancy::roles::Permission;
use crate::tickets;

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
async fn ticket_prices(tx: &mut Tx, order_id: &str) -> ApiResult<Vec<(String, i64)>> {
    let lines: Vec<OrderLine> = sqlx::query_as(
        "SELECT ticket_type_id, name, quantity, unit_price, discount, points_value, tax, fee_per_ticket, fee, total \
         FROM order_lines WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id.to_string())
    .fetch_all(&mut **tx)
    .await?;
    let mut prices = Vec::new();
    for line in lines {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM tickets WHERE order_id = $1 AND ticket_type_id = $2 ORDER BY id",
        )
        .bind(order_id.to_string())
        .bind(line.ticket_type_id.clone())
        .fetch_all(&mut **tx)
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
    let reason = body
        .reason
        .as_deref()
        .map(|r| validate::text("reason", r, 500))
        .transpose()?;
    let return_to_sale = body.return_to_sale.unwrap_or(true);
    let now = state.clock.now_ms();
    // Read before the transaction: everything read inside it goes through it, so refunds
    // queued for the order's lock never wait for a pool connection held by one another.
    let currency = find(&state, &access.org_id, &order_id).await?.currency;
    let program = points::program(&state.db, &access.org_id, &currency).await?;
    let mut tx = state.db.begin().await?;
    // Every refund of an order waits for this lock, so what was refunded before is read
    // after the previous refund committed: two refunds at once can never both fit.
    let order = lock_of_org(&state, &mut tx, &access.org_id, &order_id).await?;
    if !matches!(order.status.as_str(), "paid" | "partially_refunded") {
        return Err(ApiError::rule(
            "order_not_paid",
            "only a paid order can be refunded",
        ));
    }
    let prices = ticket_prices(&mut tx, &order.id).await?;
    let sold: Vec<SoldTicket> = sqlx::query_as(
        "SELECT id, ticket_type_id, seat_id FROM tickets WHERE order_id = $1 AND status = 'valid' ORDER BY id",
    )
    .bind(order.id.clone())
    .fetch_all(&mut *tx)
    .await?;
    let refunded = refunded_amount(&mut tx, &order.id).await?;
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

    let paid: Option<(String, String)> =
        sqlx::query_as("SELECT id, provider FROM payments WHERE order_id = $1 AND status = 'paid' ORDER BY id LIMIT 1")
            .bind(order.id.clone())
            .fetch_optional(&mut *tx)
            .await?;
    // Free orders took no money: nothing goes to a provider.
    let (payment_id, provider) =
        paid.unwrap_or_else(|| (String::new(), payments::SIMULATED.to_string()));
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
        if !tickets::void(&mut tx, &ticket.id, &refund_id, return_to_sale, now).await? {
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
        points::debit_at_most(&state.db, &mut tx, &movement, share(earned), now).await?;
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

/// What has been given back of an order, or is on its way (failed refunds excluded).
pub async fn refunded_amount(tx: &mut Tx, order_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM refunds WHERE order_id = $1 AND status <> 'failed'",
    )
    .bind(order_id.to_string())
    .fetch_one(&mut **tx)
    .await
}

#[derive(sqlx::FromRow)]
struct RefundRow {
    id: String,
    order_id: String,
    amount: i64,
    currency: String,
    status: String,
    tickets_voided: i64,
    return_to_sale: i64,
    reason: Option<String>,
    created_at: i64,
    completed_at: Option<i64>,
}

const REFUND_COLUMNS: &str = "r.id, r.order_id, r.amount, r.currency, r.status, \
    (SELECT COUNT(*) FROM tickets t WHERE t.refund_id = r.id) AS tickets_voided, \
    r.return_to_sale, r.reason, r.created_at, r.completed_at";

impl RefundRow {
    fn into_api(self) -> Refund {
        Refund {
            id: self.id,
            order_id: self.order_id,
            amount: self.amount,
            currency: self.currency,
            status: self.status,
            tickets_voided: self.tickets_voided,
            return_to_sale: self.return_to_sale != 0,
            reason: self.reason,
            created_at: rfc3339(self.created_at),
            completed_at: self.completed_at.map(rfc3339),
        }
    }
}

/// An order's refunds, oldest first.
pub async fn of_order(
    db: &crate::platform::db::Db,
    order_id: &str,
) -> Result<Vec<Refund>, sqlx::Error> {
    let rows: Vec<RefundRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REFUND_COLUMNS} FROM refunds r WHERE r.order_id = $1 ORDER BY r.id"
    )))
    .bind(order_id.to_string())
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(RefundRow::into_api).collect())
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
    let rows: Vec<RefundRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REFUND_COLUMNS} FROM refunds r WHERE r.organization_id = $1 AND ($2 = '' OR r.id < $2) \
         AND ($3 = '' OR r.status = $3) AND ($4 = '' OR r.order_id = $4) ORDER BY r.id DESC LIMIT $5"
    )))
    .bind(access.org_id.clone())
    .bind(page.bound())
    .bind(filter.status.clone().unwrap_or_default())
    .bind(filter.order_id.clone().unwrap_or_default())
    .bind(page.fetch_limit())
    .fetch_all(&state.db.pool)
    .await?;
    Ok(ApiJson(
        page.finish(rows, |r| &r.id).map(RefundRow::into_api),
    ))
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
    let row: Option<RefundRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REFUND_COLUMNS} FROM refunds r WHERE r.id = $1 AND r.organization_id = $2"
    )))
    .bind(refund_id)
    .bind(access.org_id.clone())
    .fetch_optional(&state.db.pool)
    .await?;
    Ok(ApiJson(
        row.ok_or_else(|| ApiError::not_found("refund"))?.into_api(),
    ))
}
