//! The event routes: parse, authorize, call the service or the store, map the answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::service::{self, Transition};
use super::store;
use super::types::{Event, EventInput};
use crate::ids::EventId;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::roles::Permission;

/// Create an event (as a draft).
#[utoipa::path(
    post, path = "/admin/events", tag = "events",
    request_body = EventInput,
    responses((status = 201, body = Event), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiJson(input): ApiJson<EventInput>,
) -> ApiResult<(StatusCode, ApiJson<Event>)> {
    access.require(Permission::ManageCatalog)?;
    if input.title.is_none() {
        return Err(ApiError::invalid("title", "required"));
    }
    if input.starts_at.is_none() || input.ends_at.is_none() {
        let field = if input.starts_at.is_none() {
            "starts_at"
        } else {
            "ends_at"
        };
        return Err(ApiError::invalid(field, "required"));
    }
    let event = service::create(&state, &access.org_id, &access.actor, input).await?;
    Ok((StatusCode::CREATED, ApiJson(event)))
}

/// Change an event.
#[utoipa::path(
    patch, path = "/admin/events/{event_id}", tag = "events",
    params(("event_id" = String, Path)),
    request_body = EventInput,
    responses((status = 200, body = Event), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 422, description = "The mode does not fit the event's ticket types (`mode_conflict`)", body = Problem)),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<EventId>,
    ApiJson(input): ApiJson<EventInput>,
) -> ApiResult<ApiJson<Event>> {
    access.require(Permission::ManageCatalog)?;
    let event = service::update(&state, &access.org_id, &access.actor, &event_id, input).await?;
    Ok(ApiJson(event))
}

/// One event.
#[utoipa::path(
    get, path = "/admin/events/{event_id}", tag = "events",
    params(("event_id" = String, Path)),
    responses((status = 200, body = Event), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<EventId>,
) -> ApiResult<ApiJson<Event>> {
    access.require(Permission::ReadOrganization)?;
    Ok(ApiJson(
        store::find(&state.db, &access.org_id, &event_id)
            .await?
            .into(),
    ))
}

/// The organization's events, newest first.
#[utoipa::path(
    get, path = "/admin/events", tag = "events",
    params(PageParams),
    responses((status = 200, body = Page<Event>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<Event>>> {
    access.require(Permission::ReadOrganization)?;
    let page = page.parse()?;
    let rows = store::page(&state.db, &access.org_id, &page.bound(), page.fetch_limit()).await?;
    Ok(ApiJson(page.finish(rows, |r| &r.id).map(Event::from)))
}

async fn transition(
    state: &AppState,
    access: &AdminAccess,
    event_id: &EventId,
    transition: Transition,
) -> ApiResult<ApiJson<Event>> {
    access.require(Permission::ManageCatalog)?;
    let event =
        service::transition(state, &access.org_id, &access.actor, event_id, transition).await?;
    Ok(ApiJson(event))
}

/// Publish a draft event: it goes on sale (within its sale window).
#[utoipa::path(
    post, path = "/admin/events/{event_id}/publish", tag = "events",
    params(("event_id" = String, Path)),
    responses((status = 200, body = Event), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
pub async fn publish(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<EventId>,
) -> ApiResult<ApiJson<Event>> {
    transition(&state, &access, &event_id, Transition::Publish).await
}

/// Take a published event back to draft: it leaves the storefront and stops selling.
#[utoipa::path(
    post, path = "/admin/events/{event_id}/unpublish", tag = "events",
    params(("event_id" = String, Path)),
    responses((status = 200, body = Event), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
pub async fn unpublish(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<EventId>,
) -> ApiResult<ApiJson<Event>> {
    transition(&state, &access, &event_id, Transition::Unpublish).await
}

/// Mark a published event as ended.
#[utoipa::path(
    post, path = "/admin/events/{event_id}/end", tag = "events",
    params(("event_id" = String, Path)),
    responses((status = 200, body = Event), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
pub async fn end(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<EventId>,
) -> ApiResult<ApiJson<Event>> {
    transition(&state, &access, &event_id, Transition::End).await
}

/// Cancel an event.
#[utoipa::path(
    post, path = "/admin/events/{event_id}/cancel", tag = "events",
    params(("event_id" = String, Path)),
    responses((status = 200, body = Event), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
pub async fn cancel(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<EventId>,
) -> ApiResult<ApiJson<Event>> {
    transition(&state, &access, &event_id, Transition::Cancel).await
}
