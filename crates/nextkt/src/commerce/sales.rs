//! The sales report of an event: per ticket type (capacity, held, sold), money (gross from
//! orders that were paid, refunds, net), sales per day in the event's time zone, and net
//! attributed to each host by its share. Read-only: it reads other contexts' tables and
//! writes nothing.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;

use crate::catalog::events::{self, EventRow, HostRef};
use crate::ids::{EventId, OrgId};
use crate::platform::db::Db;
use crate::platform::error::{ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::roles::Permission;

#[derive(Debug, Serialize, ToSchema)]
pub struct TypeSales {
    pub ticket_type_id: String,
    pub name: String,
    pub price: i64,
    /// For general admission; seated types count their seats.
    pub capacity: Option<i64>,
    /// In live carts now.
    pub held: i64,
    /// Tickets issued and not voided.
    pub sold: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DaySales {
    /// The day in the event's time zone, `YYYY-MM-DD`.
    pub date: String,
    pub orders: i64,
    pub tickets: i64,
    /// Minor units, what buyers paid that day.
    pub gross: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HostSales {
    pub name: Option<String>,
    pub kisum_company_id: Option<String>,
    pub share_bps: i64,
    /// `net × share_bps / 10,000`, rounded down.
    pub net: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SalesReport {
    pub event_id: String,
    pub currency: String,
    pub ticket_types: Vec<TypeSales>,
    /// Orders ever paid (refunded ones included).
    pub orders: i64,
    pub tickets_sold: i64,
    /// What buyers paid, minor units.
    pub gross: i64,
    /// What went back to them (refunds that succeeded).
    pub refunded: i64,
    pub net: i64,
    pub by_day: Vec<DaySales>,
    pub by_host: Vec<HostSales>,
    /// Net no host's share covers.
    pub unattributed: i64,
}

#[derive(sqlx::FromRow)]
struct TypeRow {
    id: String,
    name: String,
    price: i64,
    capacity: Option<i64>,
    held: Option<i64>,
    sold: i64,
}

/// The orders that count as sold: paid, and what became of paid ones.
const SOLD: &str = "('paid', 'partially_refunded', 'refunded')";

/// Builds the report of an event (any organization's; the caller has scoped it).
pub async fn report(db: &Db, event: &EventRow) -> Result<SalesReport, sqlx::Error> {
    let event_id = event.id.as_str();
    let types: Vec<TypeRow> = sqlx::query_as(
        "SELECT tt.id, tt.name, tt.price, p.capacity, p.held, \
         (SELECT CAST(COUNT(*) AS BIGINT) FROM tickets t WHERE t.ticket_type_id = tt.id AND t.status <> 'void') AS sold \
         FROM ticket_types tt LEFT JOIN inventory_pools p ON p.ticket_type_id = tt.id \
         WHERE tt.event_id = $1 ORDER BY tt.sort_order, tt.id",
    )
    .bind(event_id)
    .fetch_all(&db.pool)
    .await?;
    let ticket_types: Vec<TypeSales> = types
        .into_iter()
        .map(|t| TypeSales {
            ticket_type_id: t.id,
            name: t.name,
            price: t.price,
            capacity: t.capacity,
            held: t.held.unwrap_or(0),
            sold: t.sold,
        })
        .collect();
    let orders: Vec<(String, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT o.id, o.total, COALESCE(o.paid_at, o.created_at) FROM orders o \
         WHERE o.event_id = $1 AND o.status IN {SOLD}"
    )))
    .bind(event_id)
    .fetch_all(&db.pool)
    .await?;
    let tickets_per_order: BTreeMap<String, i64> = sqlx::query_as::<_, (String, i64)>(
        "SELECT order_id, CAST(COUNT(*) AS BIGINT) FROM tickets WHERE event_id = $1 GROUP BY order_id",
    )
    .bind(event_id)
    .fetch_all(&db.pool)
    .await?
    .into_iter()
    .collect();
    let refunded: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(r.amount), 0) AS BIGINT) FROM refunds r \
         JOIN orders o ON o.id = r.order_id WHERE o.event_id = $1 AND r.status = 'succeeded'",
    )
    .bind(event_id)
    .fetch_one(&db.pool)
    .await?;
    let mut days: BTreeMap<String, DaySales> = BTreeMap::new();
    let mut gross = 0;
    for (order, total, paid_at) in &orders {
        let date = service::local_time::local_date(*paid_at, &event.timezone);
        let day = days.entry(date.clone()).or_insert(DaySales {
            date,
            orders: 0,
            tickets: 0,
            gross: 0,
        });
        day.orders += 1;
        day.tickets += tickets_per_order.get(order).copied().unwrap_or(0);
        day.gross += total;
        gross += total;
    }
    let net = gross - refunded;
    let hosts: Vec<HostRef> = serde_json::from_str(&event.hosts_json).unwrap_or_default();
    let by_host: Vec<HostSales> = hosts
        .into_iter()
        .map(|h| HostSales {
            net: net * h.share_bps / 10_000,
            name: h.name,
            kisum_company_id: h.kisum_company_id,
            share_bps: h.share_bps,
        })
        .collect();
    let attributed: i64 = by_host.iter().map(|h| h.net).sum();
    Ok(SalesReport {
        event_id: event_id.to_string(),
        currency: event.currency.clone(),
        tickets_sold: ticket_types.iter().map(|t| t.sold).sum(),
        ticket_types,
        orders: orders.len() as i64,
        gross,
        refunded,
        net,
        by_day: days.into_values().collect(),
        by_host,
        unattributed: net - attributed,
    })
}

/// The event's sales: per ticket type, per day (in the event's zone) and per host.
#[utoipa::path(
    get, path = "/admin/events/{event_id}/sales", tag = "orders",
    params(("event_id" = String, Path)),
    responses(
        (status = 200, body = SalesReport),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn event_sales(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<EventId>,
) -> ApiResult<ApiJson<SalesReport>> {
    access.require(Permission::ReadOrders)?;
    let event = events::find(&state.db, &access.org_id, &event_id).await?;
    Ok(ApiJson(report(&state.db, &event).await?))
}

/// For other contexts: the report of one of an organization's events.
pub async fn of_event(db: &Db, org: &OrgId, event: &EventId) -> ApiResult<SalesReport> {
    let event = events::find(db, org, event).await?;
    Ok(report(db, &event).await?)
}
