//! The check-in list routes: parse, authorize, call the service or the store, map the answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::CheckinList;
use super::service::{self, NewList};
use super::store;
use crate::ids::EventId;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::roles::Permission;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateList {
    pub name: String,
    /// Ticket types of the event the list admits (all when absent or empty).
    pub ticket_type_ids: Option<Vec<String>>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    /// Default false: one entry per ticket.
    pub allow_reentry: Option<bool>,
}

/// Create a check-in list for an event.
#[utoipa::path(
    post, path = "/admin/events/{event_id}/checkin-lists", tag = "gate",
    params(("event_id" = String, Path)),
    request_body = CreateList,
    responses((status = 201, body = CheckinList), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<EventId>,
    ApiJson(body): ApiJson<CreateList>,
) -> ApiResult<(StatusCode, ApiJson<CheckinList>)> {
    access.require(Permission::ManageGate)?;
    let event = crate::catalog::events::find(&state.db, &access.org_id, &event_id).await?;
    let name = validate::text("name", &body.name, 100)?;
    let types = body.ticket_type_ids.clone().unwrap_or_default();
    let known = crate::catalog::ticket_types::of_event(&state.db, &event.id).await?;
    if let Some(unknown) = types.iter().find(|t| !known.iter().any(|k| &&k.id == t)) {
        // Like every id in a body that names something: unknown or another's is 404.
        let mut err = ApiError::not_found(&format!("ticket type {unknown} of this event"));
        err.field = Some("ticket_type_ids".into());
        return Err(err);
    }
    let starts_at = validate::opt_instant("starts_at", body.starts_at.as_deref())?;
    let ends_at = validate::opt_instant("ends_at", body.ends_at.as_deref())?;
    if let (Some(from), Some(to)) = (starts_at, ends_at)
        && to <= from
    {
        return Err(ApiError::invalid("ends_at", "must be after starts_at"));
    }
    let list = service::create(
        &state,
        &access.org_id,
        &access.actor,
        NewList {
            event_id: &event.id,
            name,
            ticket_type_ids: &types,
            starts_at,
            ends_at,
            allow_reentry: body.allow_reentry.unwrap_or(false),
        },
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(list)))
}

/// An event's check-in lists, oldest first.
#[utoipa::path(
    get, path = "/admin/events/{event_id}/checkin-lists", tag = "gate",
    params(("event_id" = String, Path), PageParams),
    responses((status = 200, body = Page<CheckinList>), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<EventId>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<CheckinList>>> {
    access.require(Permission::ReadOrganization)?;
    let page = page.parse()?;
    let event = crate::catalog::events::find(&state.db, &access.org_id, &event_id).await?;
    let rows =
        store::page_of_event(&state.db, &event.id, &page.bound(), page.fetch_limit()).await?;
    Ok(ApiJson(page.finish(rows, |r| &r.id).map(CheckinList::from)))
}
