//! Ticket types (tiers): price, capacity, sale window, per-order bounds, and hidden types
//! unlocked by a code. A general-admission type's capacity lives in its inventory pool,
//! where the oversell invariant is kept; a seated type's capacity is its seats.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::events::{self, EventRow};
use crate::inventory::pools;
use crate::platform::clock::{Millis, opt_rfc3339};
use crate::platform::db::Db;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams, position_key};
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::audit::{self, Change};
use crate::tenancy::roles::Permission;

pub const MAX_CAPACITY: i64 = 10_000_000;
pub const MAX_PRICE: i64 = 1_000_000_000_000;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketTypeRow {
    pub id: String,
    pub organization_id: String,
    pub event_id: String,
    pub name: String,
    pub kind: String,
    pub price: i64,
    pub currency: String,
    pub sale_starts_at: Option<i64>,
    pub sale_ends_at: Option<i64>,
    pub min_per_order: i64,
    pub max_per_order: Option<i64>,
    pub unlock_code: Option<String>,
    pub sort_order: i64,
}

pub const TICKET_TYPE_COLUMNS: &str = "id, organization_id, event_id, name, kind, price, currency, \
    sale_starts_at, sale_ends_at, min_per_order, max_per_order, unlock_code, sort_order";

impl TicketTypeRow {
    /// Hidden types are sold only to buyers who give the unlock code (any letter case).
    pub fn unlocked_by(&self, code: Option<&str>) -> bool {
        match &self.unlock_code {
            None => true,
            Some(expected) => code.is_some_and(|c| c.trim().eq_ignore_ascii_case(expected)),
        }
    }

    pub fn on_sale(&self, now: Millis) -> ApiResult<()> {
        if self.sale_starts_at.is_some_and(|at| now < at) {
            return Err(ApiError::rule(
                "sale_not_started",
                "this ticket type is not on sale yet",
            ));
        }
        if self.sale_ends_at.is_some_and(|at| now >= at) {
            return Err(ApiError::rule(
                "sale_ended",
                "this ticket type is no longer on sale",
            ));
        }
        Ok(())
    }
}

/// A ticket type as operators see it, with its inventory.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketType {
    pub id: String,
    pub event_id: String,
    pub name: String,
    /// `ga` (general admission, counted) or `seated` (sold by seat).
    pub kind: String,
    /// In minor units of `currency` (IDR has none: whole rupiah).
    pub price: i64,
    pub currency: String,
    /// For GA: the pool's capacity; for seated: the number of seats of this type.
    pub capacity: i64,
    /// Units in live carts.
    pub held: i64,
    /// Units issued as tickets.
    pub sold: i64,
    pub sale_starts_at: Option<String>,
    pub sale_ends_at: Option<String>,
    pub min_per_order: i64,
    pub max_per_order: Option<i64>,
    /// Hidden from buyers unless they give this code.
    pub unlock_code: Option<String>,
    pub sort_order: i64,
}

pub async fn find(db: &Db, org_id: &str, id: &str) -> ApiResult<TicketTypeRow> {
    let row: Option<TicketTypeRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TICKET_TYPE_COLUMNS} FROM ticket_types WHERE id = $1 AND organization_id = $2"
    )))
    .bind(id.to_string())
    .bind(org_id.to_string())
    .fetch_optional(&db.pool)
    .await?;
    row.ok_or_else(|| ApiError::not_found("ticket type"))
}

/// A ticket type by id alone, for inventory work that checks the tenant itself.
pub async fn find_any(db: &Db, id: &str) -> Result<Option<TicketTypeRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TICKET_TYPE_COLUMNS} FROM ticket_types WHERE id = $1"
    )))
    .bind(id.to_string())
    .fetch_optional(&db.pool)
    .await
}

pub async fn of_event(db: &Db, event_id: &str) -> Result<Vec<TicketTypeRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TICKET_TYPE_COLUMNS} FROM ticket_types WHERE event_id = $1 ORDER BY sort_order, id"
    )))
    .bind(event_id.to_string())
    .fetch_all(&db.pool)
    .await
}

/// Ticket types with their live inventory figures.
pub async fn with_inventory(
    db: &Db,
    rows: Vec<TicketTypeRow>,
    now: Millis,
) -> ApiResult<Vec<TicketType>> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let figures = pools::figures_for_event(db, &first.event_id, now).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let f = figures.get(&row.id).copied().unwrap_or_default();
            TicketType {
                capacity: f.capacity,
                held: f.held,
                sold: f.sold,
                id: row.id,
                event_id: row.event_id,
                name: row.name,
                kind: row.kind,
                price: row.price,
                currency: row.currency,
                sale_starts_at: opt_rfc3339(row.sale_starts_at),
                sale_ends_at: opt_rfc3339(row.sale_ends_at),
                min_per_order: row.min_per_order,
                max_per_order: row.max_per_order,
                unlock_code: row.unlock_code,
                sort_order: row.sort_order,
            }
        })
        .collect())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketTypeInput {
    pub name: Option<String>,
    /// `ga` (default for GA and mixed events) or `seated` (default for seated events).
    /// Fixed once created.
    pub kind: Option<String>,
    /// Minor units (whole rupiah for IDR); 0 for free tickets.
    pub price: Option<i64>,
    /// ISO 4217; the organization's by default. Fixed once created.
    pub currency: Option<String>,
    /// GA only. Can never go below what is sold and held.
    pub capacity: Option<i64>,
    /// `""` clears.
    pub sale_starts_at: Option<String>,
    /// `""` clears.
    pub sale_ends_at: Option<String>,
    /// Default 1; never above a GA type's capacity (unless that is 0).
    pub min_per_order: Option<i64>,
    /// 0 clears.
    pub max_per_order: Option<i64>,
    /// Hide the type unless buyers give this code; `""` clears.
    pub unlock_code: Option<String>,
    pub sort_order: Option<i64>,
}

fn apply(row: &mut TicketTypeRow, input: &TicketTypeInput) -> ApiResult<()> {
    if let Some(name) = &input.name {
        row.name = validate::text("name", name, 200)?;
    }
    if let Some(price) = input.price {
        row.price = validate::range("price", price, 0, MAX_PRICE)?;
    }
    if let Some(at) = &input.sale_starts_at {
        row.sale_starts_at = if at.is_empty() {
            None
        } else {
            Some(validate::instant("sale_starts_at", at)?)
        };
    }
    if let Some(at) = &input.sale_ends_at {
        row.sale_ends_at = if at.is_empty() {
            None
        } else {
            Some(validate::instant("sale_ends_at", at)?)
        };
    }
    if let Some(n) = input.min_per_order {
        row.min_per_order = validate::range("min_per_order", n, 1, 1000)?;
    }
    if let Some(n) = input.max_per_order {
        row.max_per_order = (validate::range("max_per_order", n, 0, 1000)? > 0).then_some(n);
    }
    if let Some(code) = &input.unlock_code {
        row.unlock_code = if code.trim().is_empty() {
            None
        } else {
            Some(validate::text("unlock_code", code, 64)?)
        };
    }
    if let Some(n) = input.sort_order {
        row.sort_order = validate::range("sort_order", n, -1_000_000, 1_000_000)?;
    }
    if let (Some(from), Some(to)) = (row.sale_starts_at, row.sale_ends_at)
        && to <= from
    {
        return Err(ApiError::invalid(
            "sale_ends_at",
            "must be after sale_starts_at",
        ));
    }
    if row.max_per_order.is_some_and(|max| max < row.min_per_order) {
        return Err(ApiError::invalid(
            "max_per_order",
            "cannot be below min_per_order",
        ));
    }
    Ok(())
}

/// A GA type's smallest order must fit in its capacity, or no order could ever be placed
/// (a capacity of 0, nothing on sale, is left alone).
fn check_min_fits(min_per_order: i64, capacity: i64) -> ApiResult<()> {
    if capacity > 0 && min_per_order > capacity {
        return Err(ApiError::rule(
            "min_above_capacity",
            format!(
                "min_per_order ({min_per_order}) is above the capacity ({capacity}): no order could be placed"
            ),
        ));
    }
    Ok(())
}

/// Add a ticket type to an event.
#[utoipa::path(
    post, path = "/admin/events/{event_id}/ticket-types", tag = "events",
    params(("event_id" = String, Path)),
    request_body = TicketTypeInput,
    responses((status = 201, body = TicketType), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 422, description = "The kind does not fit the event's mode (`mode_conflict`), or `min_per_order` is above the capacity (`min_above_capacity`)", body = Problem)),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<String>,
    ApiJson(input): ApiJson<TicketTypeInput>,
) -> ApiResult<(StatusCode, ApiJson<TicketType>)> {
    access.require(Permission::ManageCatalog)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let event: EventRow = events::find_in(&state.db, &mut tx, &access.org_id, &event_id).await?;
    let mode = event.mode();
    let kind = match input.kind.as_deref() {
        Some(kind @ ("ga" | "seated")) => kind.to_string(),
        Some(_) => return Err(ApiError::invalid("kind", "must be ga or seated")),
        None if mode == events::Mode::Seated => "seated".into(),
        None => "ga".into(),
    };
    if !mode.allows(&kind) {
        return Err(ApiError::rule(
            "mode_conflict",
            format!("a {} event cannot have {kind} ticket types", mode.as_str()),
        ));
    }
    // One currency per event: a cart's amounts are only ever summed in one currency.
    let currency = match &input.currency {
        Some(c) => validate::currency("currency", c)?,
        None => event.currency.clone(),
    };
    if currency != event.currency {
        return Err(ApiError::rule(
            "currency_mismatch",
            format!(
                "the event sells in {}; its ticket types cannot be priced in {currency}",
                event.currency
            ),
        ));
    }
    let name = validate::text("name", input.name.as_deref().unwrap_or_default(), 200)?;
    let capacity = match (kind.as_str(), input.capacity) {
        ("ga", Some(c)) => validate::range("capacity", c, 0, MAX_CAPACITY)?,
        ("ga", None) => {
            return Err(ApiError::invalid(
                "capacity",
                "required for ga ticket types",
            ));
        }
        (_, Some(_)) => {
            return Err(ApiError::invalid(
                "capacity",
                "seated types get their capacity from their seats",
            ));
        }
        _ => 0,
    };
    let mut row = TicketTypeRow {
        id: new_id(),
        organization_id: access.org_id.clone(),
        event_id: event.id.clone(),
        name,
        kind: kind.clone(),
        price: 0,
        currency,
        sale_starts_at: None,
        sale_ends_at: None,
        min_per_order: 1,
        max_per_order: None,
        unlock_code: None,
        sort_order: 0,
    };
    if input.price.is_none() {
        return Err(ApiError::invalid("price", "required (0 for free tickets)"));
    }
    apply(&mut row, &input)?;
    if kind == "ga" {
        check_min_fits(row.min_per_order, capacity)?;
    }
    sqlx::query(
        "INSERT INTO ticket_types (id, organization_id, event_id, name, kind, price, currency, \
         sale_starts_at, sale_ends_at, min_per_order, max_per_order, unlock_code, sort_order, \
         created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
    )
    .bind(row.id.clone())
    .bind(row.organization_id.clone())
    .bind(row.event_id.clone())
    .bind(row.name.clone())
    .bind(row.kind.clone())
    .bind(row.price)
    .bind(row.currency.clone())
    .bind(row.sale_starts_at)
    .bind(row.sale_ends_at)
    .bind(row.min_per_order)
    .bind(row.max_per_order)
    .bind(row.unlock_code.clone())
    .bind(row.sort_order)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if kind == "ga" {
        pools::create(&mut tx, &row, capacity, now).await?;
    }
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "ticket_type.created",
            target_kind: "ticket_type",
            target_id: &row.id,
            before: None,
            after: Some(serde_json::json!({ "name": row.name, "price": row.price, "capacity": capacity, "kind": kind })),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    let created = with_inventory(&state.db, vec![row], now).await?.remove(0);
    Ok((StatusCode::CREATED, ApiJson(created)))
}

/// Change a ticket type. Capacity can never go below what is sold and held.
#[utoipa::path(
    patch, path = "/admin/ticket-types/{ticket_type_id}", tag = "events",
    params(("ticket_type_id" = String, Path)),
    request_body = TicketTypeInput,
    responses((status = 200, body = TicketType), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 422, description = "Capacity below sold + held (`capacity_below_committed`), or `min_per_order` above the capacity (`min_above_capacity`)", body = Problem)),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(ticket_type_id): Path<String>,
    ApiJson(input): ApiJson<TicketTypeInput>,
) -> ApiResult<ApiJson<TicketType>> {
    access.require(Permission::ManageCatalog)?;
    let mut row = find(&state.db, &access.org_id, &ticket_type_id).await?;
    if input.kind.as_deref().is_some_and(|k| k != row.kind) {
        return Err(ApiError::invalid(
            "kind",
            "the kind of a ticket type cannot change",
        ));
    }
    if input.currency.as_deref().is_some_and(|c| c != row.currency) {
        return Err(ApiError::invalid(
            "currency",
            "the currency of a ticket type cannot change",
        ));
    }
    if input.capacity.is_some() && row.kind != "ga" {
        return Err(ApiError::invalid(
            "capacity",
            "seated types get their capacity from their seats",
        ));
    }
    let before = serde_json::json!({ "name": row.name, "price": row.price });
    apply(&mut row, &input)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    if row.kind == "ga" && (input.capacity.is_some() || input.min_per_order.is_some()) {
        let capacity = match input.capacity {
            Some(capacity) => validate::range("capacity", capacity, 0, MAX_CAPACITY)?,
            // Locked, so a capacity change running at once cannot slip under the minimum.
            None => pools::lock(&state.db, &mut tx, &row.id)
                .await?
                .map_or(0, |pool| pool.capacity),
        };
        check_min_fits(row.min_per_order, capacity)?;
    }
    sqlx::query(
        "UPDATE ticket_types SET name = $1, price = $2, sale_starts_at = $3, sale_ends_at = $4, \
         min_per_order = $5, max_per_order = $6, unlock_code = $7, sort_order = $8, updated_at = $9 \
         WHERE id = $10 AND organization_id = $11",
    )
    .bind(row.name.clone())
    .bind(row.price)
    .bind(row.sale_starts_at)
    .bind(row.sale_ends_at)
    .bind(row.min_per_order)
    .bind(row.max_per_order)
    .bind(row.unlock_code.clone())
    .bind(row.sort_order)
    .bind(now)
    .bind(row.id.clone())
    .bind(row.organization_id.clone())
    .execute(&mut *tx)
    .await?;
    if let Some(capacity) = input.capacity {
        let capacity = validate::range("capacity", capacity, 0, MAX_CAPACITY)?;
        pools::set_capacity(&state.db, &mut tx, &row.id, capacity, now).await?;
    }
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "ticket_type.updated",
            target_kind: "ticket_type",
            target_id: &row.id,
            before: Some(before),
            after: Some(serde_json::json!({ "name": row.name, "price": row.price, "capacity": input.capacity })),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    let updated = with_inventory(&state.db, vec![row], now).await?.remove(0);
    Ok(ApiJson(updated))
}

/// An event's ticket types with their inventory, in their `sort_order` (then creation).
#[utoipa::path(
    get, path = "/admin/events/{event_id}/ticket-types", tag = "events",
    params(("event_id" = String, Path), PageParams),
    responses((status = 200, body = Page<TicketType>), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<String>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<TicketType>>> {
    access.require(Permission::ReadOrganization)?;
    let page = page.parse()?;
    let (after_order, after_id) = page.position()?;
    let event = events::find(&state.db, &access.org_id, &event_id).await?;
    let rows: Vec<TicketTypeRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {TICKET_TYPE_COLUMNS} FROM ticket_types WHERE event_id = $1 \
         AND ($3 = '' OR sort_order > $2 OR (sort_order = $2 AND id > $3)) \
         ORDER BY sort_order, id LIMIT $4"
    )))
    .bind(event.id.clone())
    .bind(after_order)
    .bind(after_id)
    .bind(page.fetch_limit())
    .fetch_all(&state.db.pool)
    .await?;
    let page = page.finish_keyed(rows, |r| position_key(r.sort_order, &r.id));
    Ok(ApiJson(Page {
        items: with_inventory(&state.db, page.items, state.clock.now_ms()).await?,
        next_cursor: page.next_cursor,
    }))
}
