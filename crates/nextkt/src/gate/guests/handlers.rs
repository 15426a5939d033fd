//! The guest-list routes: parse, authorize, call the service or the store, map the answer.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::csv_import::{LineError, read_csv};
use super::service::{self, By};
use super::{Entry, Guest, MAX_PER_GUEST, ga_type, store};
use crate::catalog::{events, ticket_types};
use crate::ids::EventId;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::roles::Permission;

fn by(access: &AdminAccess) -> By<'_> {
    By {
        org_id: &access.org_id,
        actor: &access.actor,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGuest {
    pub name: String,
    pub email: String,
    /// A general-admission ticket type of the event; its capacity is used.
    pub ticket_type_id: String,
    /// Tickets for this guest (1–20, default 1).
    pub quantity: Option<i64>,
    pub note: Option<String>,
    /// Email the guest their tickets (default true).
    pub send_email: Option<bool>,
}

/// Add a guest with complimentary tickets.
#[utoipa::path(
    post, path = "/admin/events/{event_id}/guest-list", tag = "gate",
    params(("event_id" = String, Path)),
    request_body = NewGuest,
    responses((status = 201, body = Guest), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 422, description = "`sold_out` (the ticket type's capacity is used up)", body = Problem)),
    security(("bearer" = []))
)]
pub async fn add(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<EventId>,
    ApiJson(body): ApiJson<NewGuest>,
) -> ApiResult<(StatusCode, ApiJson<Guest>)> {
    access.require(Permission::ManageOrders)?;
    let event = events::find(&state.db, &access.org_id, &event_id).await?;
    let types = ticket_types::of_event(&state.db, &event.id).await?;
    let entry = Entry {
        name: validate::text("name", &body.name, 200)?,
        email: validate::email("email", &body.email)?,
        ticket_type_id: ga_type(&types, &body.ticket_type_id)
            .map_err(|e| ApiError::invalid("ticket_type_id", e))?
            .id
            .clone(),
        quantity: validate::range("quantity", body.quantity.unwrap_or(1), 1, MAX_PER_GUEST)?,
        note: match &body.note {
            Some(n) if !n.trim().is_empty() => validate::text("note", n, 500)?,
            _ => String::new(),
        },
    };
    let id = service::add(
        &state,
        by(&access),
        &event,
        &types,
        &entry,
        body.send_email.unwrap_or(true),
    )
    .await?;
    let guest = store::of_event(&state.db, &state.base_url, &event.id, Some(&id), "", 1)
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found("guest"))?;
    Ok((StatusCode::CREATED, ApiJson(guest)))
}

/// The problem document (code `import_failed`) with every bad line.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportFailed {
    #[serde(flatten)]
    pub problem: Problem,
    /// Every bad line; nothing was imported.
    pub errors: Vec<LineError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Imported {
    pub imported: usize,
    pub tickets: i64,
    pub guest_ids: Vec<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ImportParams {
    /// Email each guest their tickets (default true).
    pub send_email: Option<bool>,
}

/// Import guests from CSV (`content-type: text/csv`). Columns: `name`, `email`,
/// `ticket_type` (id or name), optional `quantity` and `note`. Every line is checked first;
/// if any is bad, nothing is imported and each bad line is reported.
#[utoipa::path(
    post, path = "/admin/events/{event_id}/guest-list/import", tag = "gate",
    params(("event_id" = String, Path), ImportParams),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 201, body = Imported),
        (status = 400, description = "Not UTF-8 text (`invalid_body`), a NUL character, or a bad query parameter", body = Problem),
        (status = 404, body = Problem),
        (status = 415, description = "Not text/csv", body = Problem),
        (status = 422, description = "Bad lines (`import_failed`, with every line's error) or `sold_out`", body = ImportFailed)),
    security(("bearer" = []))
)]
pub async fn import(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<EventId>,
    ApiQuery(params): ApiQuery<ImportParams>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    access.require(Permission::ManageOrders)?;
    let is_csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/csv"));
    if !is_csv {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the guest list as text/csv",
        ));
    }
    let body = body.map_err(|_| crate::platform::json::payload_too_large())?;
    let body = std::str::from_utf8(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!(
                "the file is not UTF-8 text (byte {} is not); save it as CSV UTF-8",
                e.valid_up_to() + 1
            ),
        )
    })?;
    let event = events::find(&state.db, &access.org_id, &event_id).await?;
    let types = ticket_types::of_event(&state.db, &event.id).await?;
    let existing = store::existing(&state.db, &event.id).await?;
    let entries = match read_csv(body, &types, &existing) {
        Ok(entries) => entries,
        Err(errors) => {
            let failed = ImportFailed {
                problem: ApiError::rule(
                    "import_failed",
                    format!(
                        "{} problem(s) in the file; nothing was imported",
                        errors.len()
                    ),
                )
                .problem(),
                errors,
            };
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                [(header::CONTENT_TYPE, "application/problem+json")],
                axum::Json(failed),
            )
                .into_response());
        }
    };
    let ids = service::import(
        &state,
        by(&access),
        &event,
        &types,
        &entries,
        params.send_email.unwrap_or(true),
    )
    .await?;
    let tickets: i64 = entries.iter().map(|e| e.quantity).sum();
    Ok((
        StatusCode::CREATED,
        ApiJson(Imported {
            imported: ids.len(),
            tickets,
            guest_ids: ids,
        }),
    )
        .into_response())
}

/// The event's guest list, with who has arrived, oldest first.
#[utoipa::path(
    get, path = "/admin/events/{event_id}/guest-list", tag = "gate",
    params(("event_id" = String, Path), PageParams),
    responses((status = 200, body = Page<Guest>), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<EventId>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<Guest>>> {
    access.require(Permission::ReadOrders)?;
    let page = page.parse()?;
    let event = events::find(&state.db, &access.org_id, &event_id).await?;
    let guests = store::of_event(
        &state.db,
        &state.base_url,
        &event.id,
        None,
        &page.bound(),
        page.fetch_limit(),
    )
    .await?;
    Ok(ApiJson(page.finish(guests, |g| &g.id)))
}
