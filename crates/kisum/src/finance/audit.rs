//! The finance audit log: every change, who made it, before and after, written in the
//! same transaction as the change.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::access::Member;
use crate::ids::CompanyId;
use crate::platform::clock::{Millis, rfc3339};
use crate::platform::db::Tx;
use crate::platform::error::ApiResult;
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::list::List;
use crate::platform::pagination::PageParams;
use crate::platform::query::ApiQuery;
use crate::state::AppState;

pub struct Entry<'a> {
    pub company: &'a CompanyId,
    pub actor: &'a str,
    /// Dotted verb, e.g. `bill.approved`.
    pub action: &'a str,
    pub target_kind: &'a str,
    pub target_id: &'a str,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

pub async fn record(tx: &mut Tx, entry: Entry<'_>, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO finance_audit (id, company_id, actor, action, target_kind, target_id, \
         before_json, after_json, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new_id())
    .bind(entry.company.as_str())
    .bind(entry.actor)
    .bind(entry.action)
    .bind(entry.target_kind)
    .bind(entry.target_id)
    .bind(entry.before.map(|v| v.to_string()))
    .bind(entry.after.map(|v| v.to_string()))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records `member`'s change of one row (`target`: its kind and id), from `before` to
/// `after` (each absent when the row did not or does not exist).
pub async fn changed<T: Serialize>(
    tx: &mut Tx,
    member: &Member,
    action: &str,
    target: (&str, &str),
    before: Option<&T>,
    after: Option<&T>,
    now: Millis,
) -> Result<(), sqlx::Error> {
    record(
        tx,
        Entry {
            company: &member.company_id,
            actor: &actor(member),
            action,
            target_kind: target.0,
            target_id: target.1,
            before: before.and_then(|b| serde_json::to_value(b).ok()),
            after: after.and_then(|a| serde_json::to_value(a).ok()),
        },
        now,
    )
    .await
}

/// The actor string of a member.
pub fn actor(member: &Member) -> String {
    format!("user:{}", member.user_id)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: String,
    pub actor: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub created_at: String,
}

/// The company's finance changes, newest first.
#[utoipa::path(get, path = "/finance/audit", tag = "finance", params(PageParams, ("x-org" = String, Header)),
    responses((status = 200, body = List<AuditEntry>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<List<AuditEntry>>> {
    member.require("finance.audit.read")?;
    let page = page.parse()?;
    type Row = (
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        i64,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, actor, action, target_kind, target_id, before_json, after_json, created_at \
         FROM finance_audit WHERE company_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3",
    )
    .bind(member.company_id.as_str())
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&state.db.pool)
    .await?;
    let entries = rows
        .into_iter()
        .map(
            |(id, actor, action, target_kind, target_id, before, after, created_at)| AuditEntry {
                id,
                actor,
                action,
                target_kind,
                target_id,
                before: before.and_then(|b| serde_json::from_str(&b).ok()),
                after: after.and_then(|a| serde_json::from_str(&a).ok()),
                created_at: rfc3339(created_at),
            },
        )
        .collect();
    Ok(ApiJson(page.finish(entries, |e| e.id.as_str()).into()))
}
