//! The ticket-type routes: parse, authorize, call the service or the store, map the answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::service::{self, with_inventory};
use super::store;
use super::types::{TicketType, TicketTypeInput};
use crate::catalog::events;
use crate::ids::{EventId, TicketTypeId};
use crate::platform::error::{ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams, position_key};
use crate::platform::query::ApiQuery;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::roles::Permission;

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
    Path(event_id): Path<EventId>,
    ApiJson(input): ApiJson<TicketTypeInput>,
) -> ApiResult<(StatusCode, ApiJson<TicketType>)> {
    access.require(Permission::ManageCatalog)?;
    let created = service::create(&state, &access.org_id, &access.actor, &event_id, input).await?;
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
    Path(ticket_type_id): Path<TicketTypeId>,
    ApiJson(input): ApiJson<TicketTypeInput>,
) -> ApiResult<ApiJson<TicketType>> {
    access.require(Permission::ManageCatalog)?;
    let updated = service::update(
        &state,
        &access.org_id,
        &access.actor,
        &ticket_type_id,
        input,
    )
    .await?;
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
    Path(event_id): Path<EventId>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<TicketType>>> {
    access.require(Permission::ReadOrganization)?;
    let page = page.parse()?;
    let (after_order, after_id) = page.position()?;
    let event = events::find(&state.db, &access.org_id, &event_id).await?;
    let rows = store::page(
        &state.db,
        &event.id,
        after_order,
        &after_id,
        page.fetch_limit(),
    )
    .await?;
    let page = page.finish_keyed(rows, |r| position_key(r.sort_order, &r.id));
    Ok(ApiJson(Page {
        items: with_inventory(&state.db, page.items, state.clock.now_ms()).await?,
        next_cursor: page.next_cursor,
    }))
}
