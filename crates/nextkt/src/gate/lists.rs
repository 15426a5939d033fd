//! Check-in lists: which ticket types a list admits, when, and whether people may leave and
//! come back.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::clock::{opt_rfc3339, rfc3339};
use crate::platform::db::Db;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::audit::{self, Change};
use crate::tenancy::roles::Permission;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListRow {
    pub id: String,
    pub organization_id: String,
    pub event_id: String,
    pub name: String,
    pub ticket_type_ids_json: String,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub allow_reentry: i64,
    pub created_at: i64,
}

pub const LIST_COLUMNS: &str = "id, organization_id, event_id, name, ticket_type_ids_json, starts_at, ends_at, allow_reentry, created_at";

impl ListRow {
    pub fn admits(&self, ticket_type_id: &str) -> bool {
        let ids: Vec<String> = serde_json::from_str(&self.ticket_type_ids_json).unwrap_or_default();
        ids.is_empty() || ids.iter().any(|i| i == ticket_type_id)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckinList {
    pub id: String,
    pub event_id: String,
    pub name: String,
    /// Admitted ticket types (all when empty).
    pub ticket_type_ids: Vec<String>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    /// Whether a guest who left may enter again.
    pub allow_reentry: bool,
    pub created_at: String,
}

impl From<ListRow> for CheckinList {
    fn from(r: ListRow) -> Self {
        CheckinList {
            ticket_type_ids: serde_json::from_str(&r.ticket_type_ids_json).unwrap_or_default(),
            id: r.id,
            event_id: r.event_id,
            name: r.name,
            starts_at: opt_rfc3339(r.starts_at),
            ends_at: opt_rfc3339(r.ends_at),
            allow_reentry: r.allow_reentry != 0,
            created_at: rfc3339(r.created_at),
        }
    }
}

pub async fn find(db: &Db, org_id: &str, list_id: &str) -> Result<Option<ListRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {LIST_COLUMNS} FROM checkin_lists WHERE id = $1 AND organization_id = $2"
    )))
    .bind(list_id.to_string())
    .bind(org_id.to_string())
    .fetch_optional(&db.pool)
    .await
}

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
    Path(event_id): Path<String>,
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
    let now = state.clock.now_ms();
    let row = ListRow {
        id: new_id(),
        organization_id: access.org_id.clone(),
        event_id: event.id.clone(),
        name,
        ticket_type_ids_json: serde_json::to_string(&types).unwrap_or_default(),
        starts_at,
        ends_at,
        allow_reentry: i64::from(body.allow_reentry.unwrap_or(false)),
        created_at: now,
    };
    let mut tx = state.db.begin().await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO checkin_lists ({LIST_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )))
    .bind(row.id.clone())
    .bind(row.organization_id.clone())
    .bind(row.event_id.clone())
    .bind(row.name.clone())
    .bind(row.ticket_type_ids_json.clone())
    .bind(row.starts_at)
    .bind(row.ends_at)
    .bind(row.allow_reentry)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let list = CheckinList::from(row);
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "checkin_list.created",
            target_kind: "checkin_list",
            target_id: &list.id,
            before: None,
            after: serde_json::to_value(&list).ok(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
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
    Path(event_id): Path<String>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<CheckinList>>> {
    access.require(Permission::ReadOrganization)?;
    let page = page.parse()?;
    let event = crate::catalog::events::find(&state.db, &access.org_id, &event_id).await?;
    let rows: Vec<ListRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {LIST_COLUMNS} FROM checkin_lists WHERE event_id = $1 AND ($2 = '' OR id > $2) \
         ORDER BY id LIMIT $3"
    )))
    .bind(event.id)
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&state.db.pool)
    .await?;
    Ok(ApiJson(page.finish(rows, |r| &r.id).map(CheckinList::from)))
}
