//! The report routes: parse, authorize, call the service or the store, map the answer.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::IntoParams;

use super::store::{self, Filter};
use super::{Attendee, CheckinReport, Conflict, service};
use crate::catalog::events;
use crate::ids::EventId;
use crate::platform::clock::{opt_rfc3339, rfc3339};
use crate::platform::csv;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::roles::Permission;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GuestFilter {
    /// Part of the holder's name or email, or a ticket's whole code.
    pub q: Option<String>,
    /// `true`: only tickets that have gone in; `false`: only those that have not.
    pub arrived: Option<bool>,
    /// `sale` or `complimentary` (guest list).
    pub kind: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

fn check(filter: &GuestFilter) -> ApiResult<Filter> {
    let q = filter.q.as_deref().unwrap_or_default().trim().to_string();
    if q.len() > 200 {
        return Err(ApiError::invalid("q", "at most 200 characters"));
    }
    // LIKE wildcards in the query are matched literally.
    let escaped = crate::tickets::search_fold(&q)
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let kind = match filter.kind.as_deref() {
        None | Some("") => String::new(),
        Some(k @ ("sale" | "complimentary")) => k.to_string(),
        Some(_) => return Err(ApiError::invalid("kind", "must be sale or complimentary")),
    };
    Ok(Filter {
        like: format!("%{escaped}%"),
        q,
        kind,
        arrived: match filter.arrived {
            None => String::new(),
            Some(true) => "yes".into(),
            Some(false) => "no".into(),
        },
    })
}

/// The event's attendees (every ticket), newest first; search by name, email or code.
#[utoipa::path(
    get, path = "/admin/events/{event_id}/guests", tag = "gate",
    params(("event_id" = String, Path), GuestFilter),
    responses((status = 200, body = Page<Attendee>), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn guests(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<EventId>,
    ApiQuery(filter): ApiQuery<GuestFilter>,
) -> ApiResult<ApiJson<Page<Attendee>>> {
    access.require(Permission::ReadOrders)?;
    let event = events::find(&state.db, &access.org_id, &event_id).await?;
    let page = PageParams {
        limit: filter.limit,
        cursor: filter.cursor.clone(),
    }
    .parse()?;
    let mut rows = store::attendees(
        &state.db,
        &access.org_id,
        &event.id,
        &check(&filter)?,
        Some((page.bound(), page.fetch_limit())),
    )
    .await?;
    for r in &mut rows {
        r.arrived_at = opt_rfc3339(r.arrived_ms);
    }
    Ok(ApiJson(page.finish(rows, |r| &r.ticket_id)))
}

/// The same list as CSV, every matching row.
#[utoipa::path(
    get, path = "/admin/events/{event_id}/guests/export", tag = "gate",
    params(("event_id" = String, Path), GuestFilter),
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn export(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<EventId>,
    ApiQuery(filter): ApiQuery<GuestFilter>,
) -> ApiResult<impl IntoResponse> {
    access.require(Permission::ReadOrders)?;
    let event = events::find(&state.db, &access.org_id, &event_id).await?;
    let rows =
        store::attendees(&state.db, &access.org_id, &event.id, &check(&filter)?, None).await?;
    let mut out = csv::row(&[
        "ticket_id",
        "holder_name",
        "holder_email",
        "ticket_type",
        "kind",
        "status",
        "order_id",
        "arrived_at",
    ]);
    for r in rows {
        out.push_str(&csv::row(&[
            r.ticket_id,
            r.holder_name,
            r.holder_email,
            r.ticket_type,
            r.kind,
            r.status,
            r.order_id,
            opt_rfc3339(r.arrived_ms).unwrap_or_default(),
        ]));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"guests-{}.csv\"", event.id),
            ),
        ],
        out,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// Width of the arrivals buckets in minutes, 1–1440 (default 15).
    pub bucket_minutes: Option<i64>,
}

/// Live check-in figures of an event.
#[utoipa::path(
    get, path = "/admin/events/{event_id}/checkins", tag = "gate",
    params(("event_id" = String, Path), ReportParams),
    responses((status = 200, body = CheckinReport), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn checkins(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<EventId>,
    ApiQuery(params): ApiQuery<ReportParams>,
) -> ApiResult<ApiJson<CheckinReport>> {
    access.require(Permission::ReadOrders)?;
    let bucket_ms = crate::platform::validate::range(
        "bucket_minutes",
        params.bucket_minutes.unwrap_or(15),
        1,
        1440,
    )? * 60_000;
    let event = events::find(&state.db, &access.org_id, &event_id).await?;
    Ok(ApiJson(
        service::checkins(&state, &event.id, bucket_ms).await?,
    ))
}

/// Offline scans that let in someone the server refuses (two people on one ticket, a
/// revoked code, ...), oldest first.
#[utoipa::path(
    get, path = "/admin/events/{event_id}/scan-conflicts", tag = "gate",
    params(("event_id" = String, Path), PageParams),
    responses((status = 200, body = Page<Conflict>), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn conflicts(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<EventId>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<Conflict>>> {
    access.require(Permission::ReadOrders)?;
    let page = page.parse()?;
    let event = events::find(&state.db, &access.org_id, &event_id).await?;
    let mut rows =
        store::conflicts(&state.db, &event.id, &page.bound(), page.fetch_limit()).await?;
    for r in &mut rows {
        r.scanned_at = rfc3339(r.scanned_ms);
        r.first_at = opt_rfc3339(r.first_ms);
    }
    Ok(ApiJson(page.finish(rows, |r| &r.id)))
}
