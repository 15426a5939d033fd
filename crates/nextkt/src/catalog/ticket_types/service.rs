//! The rules of ticket types: kind and currency fixed by the event, bounds that fit the
//! capacity, the GA pool created and resized with the type; each change and its audit
//! entry in one transaction.

use super::store;
use super::types::{TicketType, TicketTypeInput};
use super::{MAX_CAPACITY, MAX_PRICE, TicketTypeRow};
use crate::catalog::events;
use crate::ids::{EventId, OrgId, TicketTypeId};
use crate::inventory::pools;
use crate::platform::clock::{Millis, opt_rfc3339};
use crate::platform::db::Db;
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::ids::new_id;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::Actor;
use crate::tenancy::audit::{self, Change};

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
                event_id: row.event_id.into_string(),
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

/// Adds a ticket type to an event: its kind must fit the event's mode, its currency is
/// the event's, and a GA type gets its inventory pool.
#[tracing::instrument(skip_all, fields(org_id = %org_id, event_id = %event_id))]
pub async fn create(
    state: &AppState,
    org_id: &OrgId,
    actor: &Actor,
    event_id: &EventId,
    input: TicketTypeInput,
) -> ApiResult<TicketType> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let event = events::find_in(&state.db, &mut tx, org_id, event_id).await?;
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
        organization_id: org_id.clone(),
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
    store::insert(&mut tx, &row, now).await?;
    if kind == "ga" {
        pools::create(&mut tx, &row, capacity, now).await?;
    }
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor,
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
    Ok(with_inventory(&state.db, vec![row], now).await?.remove(0))
}

/// Changes a ticket type. Its kind and currency never change; a GA type's capacity can
/// never go below what is sold and held, nor below its smallest order.
#[tracing::instrument(skip_all, fields(org_id = %org_id, ticket_type_id = %ticket_type_id))]
pub async fn update(
    state: &AppState,
    org_id: &OrgId,
    actor: &Actor,
    ticket_type_id: &TicketTypeId,
    input: TicketTypeInput,
) -> ApiResult<TicketType> {
    let mut row = store::find(&state.db, org_id, ticket_type_id).await?;
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
    store::save(&mut tx, &row, now).await?;
    if let Some(capacity) = input.capacity {
        let capacity = validate::range("capacity", capacity, 0, MAX_CAPACITY)?;
        pools::set_capacity(&state.db, &mut tx, &row.id, capacity, now).await?;
    }
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor,
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
    Ok(with_inventory(&state.db, vec![row], now).await?.remove(0))
}
