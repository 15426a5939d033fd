//! The audit log: every change made by an operator, API key or partner, written in the same
//! transaction as the change itself (who, what, when, before and after).
//!
//! Small enough for one file: the store (writing an entry, reading a page) and the one
//! route that reads the log.

use axum::extract::State;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::access::{Actor, AdminAccess};
use super::roles::Permission;
use crate::ids::OrgId;
use crate::platform::clock::{Millis, rfc3339};
use crate::platform::db::{Db, Tx};
use crate::platform::error::ApiResult;
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams, PageRequest};
use crate::platform::query::ApiQuery;
use crate::state::AppState;

// ---- Store ----

pub struct Change<'a> {
    pub org_id: Option<&'a OrgId>,
    pub actor: &'a Actor,
    /// Dotted verb, e.g. `member.role_changed`.
    pub action: &'a str,
    pub target_kind: &'a str,
    pub target_id: &'a str,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

pub async fn record(tx: &mut Tx, change: Change<'_>, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (id, organization_id, actor_kind, actor_id, action, target_kind, \
         target_id, before_json, after_json, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(new_id())
    .bind(change.org_id.cloned())
    .bind(change.actor.kind.as_str())
    .bind(change.actor.id.clone())
    .bind(change.action.to_string())
    .bind(change.target_kind.to_string())
    .bind(change.target_id.to_string())
    .bind(change.before.map(|v| v.to_string()))
    .bind(change.after.map(|v| v.to_string()))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: String,
    actor_kind: String,
    actor_id: String,
    action: String,
    target_kind: String,
    target_id: String,
    before_json: Option<String>,
    after_json: Option<String>,
    created_at: i64,
}

/// One page of the organization's entries, newest first.
async fn page_of(db: &Db, org_id: &str, page: &PageRequest) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, actor_kind, actor_id, action, target_kind, target_id, before_json, \
         after_json, created_at FROM audit_log \
         WHERE organization_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3",
    )
    .bind(org_id.to_string())
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&db.pool)
    .await
}

// ---- Route ----

#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    /// `operator`, `api_key`, `partner` or `system`.
    pub actor_kind: String,
    pub actor_id: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub created_at: String,
}

fn parse_json(text: Option<String>) -> Option<Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

/// The organization's audit log, newest first.
#[utoipa::path(
    get, path = "/admin/audit-log", tag = "organization",
    params(PageParams),
    responses(
        (status = 200, description = "Audit entries, newest first", body = Page<AuditEntry>),
        (status = 403, description = "Only owners and admins", body = crate::platform::error::Problem),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<AuditEntry>>> {
    access.require(Permission::ReadAuditLog)?;
    let page = page.parse()?;
    let rows = page_of(&state.db, &access.org_id, &page).await?;
    let page = page.finish(rows, |r| &r.id).map(|r| AuditEntry {
        id: r.id,
        actor_kind: r.actor_kind,
        actor_id: r.actor_id,
        action: r.action,
        target_kind: r.target_kind,
        target_id: r.target_id,
        before: parse_json(r.before_json),
        after: parse_json(r.after_json),
        created_at: rfc3339(r.created_at),
    });
    Ok(ApiJson(page))
}
