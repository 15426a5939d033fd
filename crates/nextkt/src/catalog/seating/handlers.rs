//! The seating routes: parse, authorize, call the service or the store, map the answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::MAX_SEATS_PER_SECTION;
use super::service::{self, NewHotspot, NewSection};
use super::store;
use super::types::{CreateHotspot, CreateSection, Hotspot, Seat, Section, Shape, UpdateSeats};
use crate::catalog::events;
use crate::ids::EventId;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams, position_key};
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::roles::Permission;

/// Add a section with its seats, from a compact layout.
#[utoipa::path(
    post, path = "/admin/events/{event_id}/sections", tag = "seating",
    params(("event_id" = String, Path)),
    request_body = CreateSection,
    responses((status = 201, body = Section), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "A seat position repeats (`duplicate_seat`)", body = Problem)),
    security(("bearer" = []))
)]
pub async fn create_section(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<EventId>,
    ApiJson(body): ApiJson<CreateSection>,
) -> ApiResult<(StatusCode, ApiJson<Section>)> {
    access.require(Permission::ManageCatalog)?;
    let name = validate::text("name", &body.name, 100)?;
    let section = service::create_section(
        &state,
        &access.org_id,
        &access.actor,
        &event_id,
        NewSection {
            name,
            ticket_type_id: &body.ticket_type_id,
            layout: &body.layout,
            sort_order: body.sort_order,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(section)))
}

/// An event's sections and seats, in the sections' `sort_order` (then creation).
#[utoipa::path(
    get, path = "/admin/events/{event_id}/sections", tag = "seating",
    params(("event_id" = String, Path), PageParams),
    responses((status = 200, body = Page<Section>), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn list_sections(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<EventId>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<Section>>> {
    access.require(Permission::ReadOrganization)?;
    let page = page.parse()?;
    let (after_order, after_id) = page.position()?;
    let event = events::find(&state.db, &access.org_id, &event_id).await?;
    let sections = store::section_page(
        &state.db,
        &event.id,
        after_order,
        &after_id,
        page.fetch_limit(),
    )
    .await?;
    let page = page.finish_keyed(sections, |(id, _, order)| position_key(*order, id));
    Ok(ApiJson(Page {
        items: store::sections_with_seats(&state.db, &event.id, page.items).await?,
        next_cursor: page.next_cursor,
    }))
}

/// Re-tier or block seats. Seats with a live hold or a ticket cannot change.
#[utoipa::path(
    patch, path = "/admin/events/{event_id}/seats", tag = "seating",
    params(("event_id" = String, Path)),
    request_body = UpdateSeats,
    responses((status = 200, body = Vec<Seat>), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "A seat is held or sold (`seat_claimed`)", body = Problem)),
    security(("bearer" = []))
)]
pub async fn update_seats(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<EventId>,
    ApiJson(body): ApiJson<UpdateSeats>,
) -> ApiResult<ApiJson<Vec<Seat>>> {
    access.require(Permission::ManageCatalog)?;
    let mut ids = body.seat_ids.clone();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() || ids.len() > MAX_SEATS_PER_SECTION {
        return Err(ApiError::invalid("seat_ids", "give 1 to 20000 seats"));
    }
    let seats = service::update_seats(
        &state,
        &access.org_id,
        &access.actor,
        &event_id,
        ids,
        body.ticket_type_id.as_deref(),
        body.blocked,
    )
    .await?;
    Ok(ApiJson(seats))
}

fn check_coords(shape: Shape, coords: &[f64]) -> ApiResult<()> {
    let ok = coords
        .iter()
        .all(|c| c.is_finite() && *c >= 0.0 && *c <= 100_000.0)
        && match shape {
            Shape::Rect => coords.len() == 4 && coords[2] > 0.0 && coords[3] > 0.0,
            Shape::Circle => coords.len() == 3 && coords[2] > 0.0,
            Shape::Polygon => {
                coords.len() >= 6 && coords.len().is_multiple_of(2) && coords.len() <= 2000
            }
        };
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "coords",
            "do not fit the shape (rect: x,y,w,h; circle: x,y,r; polygon: 3+ points)",
        ))
    }
}

/// Add a hotspot to the event's venue map.
#[utoipa::path(
    post, path = "/admin/events/{event_id}/hotspots", tag = "seating",
    params(("event_id" = String, Path)),
    request_body = CreateHotspot,
    responses((status = 201, body = Hotspot), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn create_hotspot(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<EventId>,
    ApiJson(body): ApiJson<CreateHotspot>,
) -> ApiResult<(StatusCode, ApiJson<Hotspot>)> {
    access.require(Permission::ManageCatalog)?;
    check_coords(body.shape, &body.coords)?;
    let label = body
        .label
        .as_deref()
        .map(|l| validate::text("label", l, 100))
        .transpose()?;
    let hotspot = service::create_hotspot(
        &state,
        &access.org_id,
        &access.actor,
        &event_id,
        NewHotspot {
            shape: body.shape,
            coords: body.coords,
            target_kind: body.target_kind,
            target_id: body.target_id,
            label,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(hotspot)))
}

/// Remove a hotspot.
#[utoipa::path(
    delete, path = "/admin/events/{event_id}/hotspots/{hotspot_id}", tag = "seating",
    params(("event_id" = String, Path), ("hotspot_id" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn delete_hotspot(
    State(state): State<AppState>,
    access: AdminAccess,
    Path((event_id, hotspot_id)): Path<(EventId, String)>,
) -> ApiResult<StatusCode> {
    access.require(Permission::ManageCatalog)?;
    service::delete_hotspot(
        &state,
        &access.org_id,
        &access.actor,
        &event_id,
        &hotspot_id,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
