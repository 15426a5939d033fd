//! Gate reports: the event's attendees (search by name, email or code; CSV export), live
//! check-in counts per list and gate, arrivals over time, and offline conflicts.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::catalog::events;
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

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Attendee {
    pub ticket_id: String,
    pub code: String,
    pub holder_name: String,
    pub holder_email: String,
    pub ticket_type_id: String,
    pub ticket_type: String,
    pub order_id: String,
    /// `sale` or `complimentary`.
    pub kind: String,
    /// `valid` or `void`.
    pub status: String,
    #[serde(skip)]
    pub arrived_ms: Option<i64>,
    #[sqlx(skip)]
    pub arrived_at: Option<String>,
}

const ATTENDEE_SELECT: &str = "SELECT t.id AS ticket_id, t.code, t.holder_name, t.holder_email, t.ticket_type_id, \
    tt.name AS ticket_type, t.order_id, o.kind, t.status, \
    (SELECT MIN(c.first_at) FROM ticket_checkins c WHERE c.ticket_id = t.id) AS arrived_ms \
    FROM tickets t JOIN ticket_types tt ON tt.id = t.ticket_type_id JOIN orders o ON o.id = t.order_id \
    WHERE t.event_id = $1 AND t.organization_id = $2 \
    AND ($3 = '' OR t.holder_search LIKE $4 ESCAPE '\\' OR t.code = $3) \
    AND ($5 = '' OR o.kind = $5) \
    AND ($6 = '' OR ($6 = 'yes') = EXISTS (SELECT 1 FROM ticket_checkins c WHERE c.ticket_id = t.id))";

struct Filter {
    q: String,
    like: String,
    kind: String,
    arrived: String,
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

/// The event's tickets matching the filter: a page (`(cursor bound, fetch limit)`, newest
/// first), or all of them by holder name.
async fn select(
    state: &AppState,
    org_id: &str,
    event_id: &str,
    f: &Filter,
    page: Option<(String, i64)>,
) -> ApiResult<Vec<Attendee>> {
    let tail = match page {
        Some(_) => "AND ($7 = '' OR t.id < $7) ORDER BY t.id DESC LIMIT $8",
        None => "ORDER BY t.holder_name, t.id",
    };
    let query = sqlx::query_as(sqlx::AssertSqlSafe(format!("{ATTENDEE_SELECT} {tail}")))
        .bind(event_id.to_string())
        .bind(org_id.to_string())
        .bind(f.q.clone())
        .bind(f.like.clone())
        .bind(f.kind.clone())
        .bind(f.arrived.clone());
    let query = match page {
        Some((bound, limit)) => query.bind(bound).bind(limit),
        None => query,
    };
    Ok(query.fetch_all(&state.db.pool).await?)
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
    Path(event_id): Path<String>,
    ApiQuery(filter): ApiQuery<GuestFilter>,
) -> ApiResult<ApiJson<Page<Attendee>>> {
    access.require(Permission::ReadOrders)?;
    let event = events::find(&state.db, &access.org_id, &event_id).await?;
    let page = PageParams {
        limit: filter.limit,
        cursor: filter.cursor.clone(),
    }
    .parse()?;
    let mut rows = select(
        &state,
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
    Path(event_id): Path<String>,
    ApiQuery(filter): ApiQuery<GuestFilter>,
) -> ApiResult<impl IntoResponse> {
    access.require(Permission::ReadOrders)?;
    let event = events::find(&state.db, &access.org_id, &event_id).await?;
    let rows = select(&state, &access.org_id, &event.id, &check(&filter)?, None).await?;
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

#[derive(Debug, Serialize, ToSchema)]
pub struct ListCount {
    pub list_id: String,
    pub name: String,
    /// Valid tickets of the ticket types the list admits.
    pub expected: i64,
    /// Tickets that have gone in at least once.
    pub arrived: i64,
    /// Tickets inside now.
    pub inside: i64,
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct GateCount {
    pub list_id: String,
    pub gate: String,
    /// Scans that let someone in.
    pub admitted: i64,
    /// Scans refused (already used, revoked, unknown, …).
    pub refused: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Bucket {
    pub from: String,
    /// First entries in this bucket.
    pub arrivals: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckinReport {
    pub lists: Vec<ListCount>,
    pub gates: Vec<GateCount>,
    pub arrivals: Vec<Bucket>,
    /// Offline scans that let in someone the server refuses.
    pub conflicts: i64,
    pub generated_at: String,
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
    Path(event_id): Path<String>,
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
    let db = &state.db.pool;
    let list_rows: Vec<super::lists::ListRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM checkin_lists WHERE event_id = $1 ORDER BY created_at, id",
        super::lists::LIST_COLUMNS
    )))
    .bind(event.id.clone())
    .fetch_all(db)
    .await?;
    let valid_per_type: Vec<(String, i64)> = sqlx::query_as(
        "SELECT ticket_type_id, COUNT(*) FROM tickets WHERE event_id = $1 AND status = 'valid' GROUP BY ticket_type_id",
    )
    .bind(event.id.clone())
    .fetch_all(db)
    .await?;
    let mut lists = Vec::with_capacity(list_rows.len());
    for list in &list_rows {
        let (arrived, inside): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(inside), 0) AS BIGINT) FROM ticket_checkins WHERE list_id = $1",
        )
        .bind(list.id.clone())
        .fetch_one(db)
        .await?;
        lists.push(ListCount {
            list_id: list.id.clone(),
            name: list.name.clone(),
            expected: valid_per_type
                .iter()
                .filter(|(t, _)| list.admits(t))
                .map(|(_, n)| n)
                .sum(),
            arrived,
            inside,
        });
    }
    let gates: Vec<GateCount> = sqlx::query_as(
        "SELECT s.list_id, s.gate, \
         CAST(COALESCE(SUM(CASE WHEN s.result = 'valid' THEN 1 ELSE 0 END), 0) AS BIGINT) AS admitted, \
         CAST(COALESCE(SUM(CASE WHEN s.result IN ('valid', 'exited', 'pending') THEN 0 ELSE 1 END), 0) AS BIGINT) AS refused \
         FROM scans s JOIN checkin_lists l ON l.id = s.list_id WHERE l.event_id = $1 \
         GROUP BY s.list_id, s.gate ORDER BY s.list_id, s.gate",
    )
    .bind(event.id.clone())
    .fetch_all(db)
    .await?;
    let buckets: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT (c.first_at / $2) * $2 AS bucket, COUNT(*) FROM ticket_checkins c \
         JOIN checkin_lists l ON l.id = c.list_id WHERE l.event_id = $1 GROUP BY (c.first_at / $2) * $2 ORDER BY bucket",
    )
    .bind(event.id.clone())
    .bind(bucket_ms)
    .fetch_all(db)
    .await?;
    let conflicts: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM scan_conflicts WHERE event_id = $1")
            .bind(event.id.clone())
            .fetch_one(db)
            .await?;
    Ok(ApiJson(CheckinReport {
        lists,
        gates,
        arrivals: buckets
            .into_iter()
            .map(|(from, arrivals)| Bucket {
                from: rfc3339(from),
                arrivals,
            })
            .collect(),
        conflicts,
        generated_at: rfc3339(state.clock.now_ms()),
    }))
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Conflict {
    pub id: String,
    /// What the server answered the scan the device had admitted: `already_used` (two
    /// people on one ticket), `revoked`, `unknown`, `not_on_this_list`, ...
    pub kind: String,
    pub list_id: String,
    pub ticket_id: Option<String>,
    /// The offline scan.
    pub scan_id: String,
    pub gate: String,
    pub device_id: String,
    #[serde(skip)]
    pub scanned_ms: i64,
    #[sqlx(skip)]
    pub scanned_at: String,
    /// Where the ticket had gone in first, for `already_used`.
    pub first_gate: Option<String>,
    #[serde(skip)]
    pub first_ms: Option<i64>,
    #[sqlx(skip)]
    pub first_at: Option<String>,
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
    Path(event_id): Path<String>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<Conflict>>> {
    access.require(Permission::ReadOrders)?;
    let page = page.parse()?;
    let event = events::find(&state.db, &access.org_id, &event_id).await?;
    let mut rows: Vec<Conflict> = sqlx::query_as(
        "SELECT c.id, c.kind, c.list_id, c.ticket_id, c.scan_id, s.gate, s.device_id, s.scanned_at AS scanned_ms, \
         k.first_gate, k.first_at AS first_ms FROM scan_conflicts c JOIN scans s ON s.id = c.scan_id \
         LEFT JOIN ticket_checkins k ON k.ticket_id = c.ticket_id AND k.list_id = c.list_id \
         WHERE c.event_id = $1 AND ($2 = '' OR c.id > $2) ORDER BY c.id LIMIT $3",
    )
    .bind(event.id.clone())
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&state.db.pool)
    .await?;
    for r in &mut rows {
        r.scanned_at = rfc3339(r.scanned_ms);
        r.first_at = opt_rfc3339(r.first_ms);
    }
    Ok(ApiJson(page.finish(rows, |r| &r.id)))
}
