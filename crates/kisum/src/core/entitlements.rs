//! What a company owns right now, computed (never stored) from its base subscription and
//! addon rows: the entitlement snapshot. Time is part of the computation: a trial past its
//! end, or a `past_due` past its grace, is not live at read time even before the sweeper
//! records the transition (as an expired hold is not).

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

use super::catalog::Catalog;
use super::companies;
use crate::ids::CompanyId;
use crate::platform::clock::{Millis, opt_rfc3339, rfc3339};
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::internal_key::InternalCaller;
use crate::platform::json::ApiJson;
use crate::platform::list::List;
use crate::platform::pagination::PageParams;
use crate::platform::query::ApiQuery;
use crate::state::AppState;

pub const DAY_MS: Millis = 24 * 3600 * 1000;

/// The state of a base subscription or an addon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Trial,
    Active,
    PastDue,
    Canceled,
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Trial => "trial",
            Status::Active => "active",
            Status::PastDue => "past_due",
            Status::Canceled => "canceled",
            Status::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Some(match text {
            "trial" => Status::Trial,
            "active" => Status::Active,
            "past_due" => Status::PastDue,
            "canceled" => Status::Canceled,
            "expired" => Status::Expired,
            _ => return None,
        })
    }

    /// Live statuses grant modules; `past_due` stays live through its grace period.
    pub fn is_live(self) -> bool {
        matches!(self, Status::Trial | Status::Active | Status::PastDue)
    }
}

/// A subscription or addon row's time-dependent facts.
#[derive(Clone, Debug)]
pub struct Term {
    pub status: Status,
    pub trial_ends_at: Option<Millis>,
    pub past_due_since: Option<Millis>,
}

impl Term {
    /// The status at `now`: a trial past its end and a `past_due` past its grace are expired.
    pub fn status_at(&self, now: Millis, grace_ms: Millis) -> Status {
        match self.status {
            Status::Trial if self.trial_ends_at.is_some_and(|end| end <= now) => Status::Expired,
            Status::PastDue if self.past_due_since.is_some_and(|s| s + grace_ms <= now) => {
                Status::Expired
            }
            status => status,
        }
    }

    /// When the status will change by itself, if it will.
    pub fn changes_at(&self, now: Millis, grace_ms: Millis) -> Option<Millis> {
        let at = match self.status {
            Status::Trial => self.trial_ends_at,
            Status::PastDue => self.past_due_since.map(|s| s + grace_ms),
            _ => None,
        };
        at.filter(|at| *at > now)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    pub package: String,
    /// The persona the package gives the company.
    pub audience: String,
    pub status: Status,
    pub trial_ends_at: Option<String>,
    pub past_due_since: Option<String>,
    pub started_at: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddonView {
    pub key: String,
    pub module: String,
    pub status: Status,
    pub trial_ends_at: Option<String>,
    /// Whether it turns its module on now: live, over a live base subscription whose persona
    /// it accepts.
    pub enabled: bool,
}

/// What the company owns, as of `generatedAt`, stamped with the entitlement version.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    #[schema(value_type = String)]
    pub company_id: CompanyId,
    /// The base module of the live subscription; absent when there is none.
    pub base_module: Option<String>,
    /// The base module and every enabled addon's module (computed, never stored).
    pub enabled_modules: Vec<String>,
    /// The live base subscription (its status as of now), or the latest one when none is
    /// live.
    pub subscription: Option<SubscriptionView>,
    pub addons: Vec<AddonView>,
    pub entitlement_version: i64,
    /// The next moment this snapshot changes by the clock alone (a trial or grace ending).
    pub changes_at: Option<String>,
    pub generated_at: String,
}

impl Snapshot {
    pub fn has_module(&self, module: &str) -> bool {
        self.enabled_modules.iter().any(|m| m == module)
    }
}

/// The company's current base subscription row: the live one, else the latest.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SubscriptionRow {
    pub id: String,
    pub package: String,
    pub status: String,
    pub trial_ends_at: Option<i64>,
    pub past_due_since: Option<i64>,
    pub trial_notice_at: Option<i64>,
    pub started_at: i64,
}

impl SubscriptionRow {
    pub fn term(&self) -> Term {
        Term {
            status: Status::parse(&self.status).unwrap_or(Status::Expired),
            trial_ends_at: self.trial_ends_at,
            past_due_since: self.past_due_since,
        }
    }
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AddonRow {
    pub addon: String,
    pub status: String,
    pub trial_ends_at: Option<i64>,
    pub past_due_since: Option<i64>,
    pub trial_notice_at: Option<i64>,
    pub started_at: i64,
}

impl AddonRow {
    pub fn term(&self) -> Term {
        Term {
            status: Status::parse(&self.status).unwrap_or(Status::Expired),
            trial_ends_at: self.trial_ends_at,
            past_due_since: self.past_due_since,
        }
    }
}

// ---- Store ----

pub async fn current_subscription(
    conn: &mut AnyConnection,
    company: &CompanyId,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, package, status, trial_ends_at, past_due_since, trial_notice_at, started_at \
         FROM company_subscriptions WHERE company_id = $1 \
         ORDER BY CASE WHEN status IN ('trial', 'active', 'past_due') THEN 0 ELSE 1 END, \
         started_at DESC, id DESC LIMIT 1",
    )
    .bind(company.as_str())
    .fetch_optional(conn)
    .await
}

pub async fn addon_rows(
    conn: &mut AnyConnection,
    company: &CompanyId,
) -> Result<Vec<AddonRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT addon, status, trial_ends_at, past_due_since, trial_notice_at, started_at \
         FROM company_addons WHERE company_id = $1 ORDER BY addon",
    )
    .bind(company.as_str())
    .fetch_all(conn)
    .await
}

pub async fn version(conn: &mut AnyConnection, company: &CompanyId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT version FROM company_entitlement_versions WHERE company_id = $1")
        .bind(company.as_str())
        .fetch_optional(conn)
        .await
        .map(|v| v.unwrap_or(0))
}

/// Computes the snapshot from what is stored, as of `now`.
pub async fn snapshot(
    conn: &mut AnyConnection,
    catalog: &Catalog,
    company: &CompanyId,
    now: Millis,
    grace_ms: Millis,
) -> Result<Snapshot, sqlx::Error> {
    let subscription = current_subscription(&mut *conn, company).await?;
    let addons = addon_rows(&mut *conn, company).await?;
    let version = version(&mut *conn, company).await?;
    Ok(compute(
        catalog,
        company,
        subscription.as_ref(),
        &addons,
        version,
        now,
        grace_ms,
    ))
}

/// The rule, on rows already read: enabled modules = the live base package's module ∪ the
/// modules of live addons that accept its persona.
pub fn compute(
    catalog: &Catalog,
    company: &CompanyId,
    subscription: Option<&SubscriptionRow>,
    addons: &[AddonRow],
    version: i64,
    now: Millis,
    grace_ms: Millis,
) -> Snapshot {
    let mut changes: Vec<Millis> = Vec::new();
    let base = subscription.and_then(|row| {
        let term = row.term();
        changes.extend(term.changes_at(now, grace_ms));
        let package = catalog.package(&row.package)?;
        Some((row, package, term.status_at(now, grace_ms)))
    });
    let live_base = base
        .as_ref()
        .filter(|(_, _, status)| status.is_live())
        .map(|(_, package, _)| *package);
    let mut enabled_modules: Vec<String> = live_base
        .map(|p| vec![p.base_module.clone()])
        .unwrap_or_default();
    let addons: Vec<AddonView> = addons
        .iter()
        .filter_map(|row| {
            let product = catalog.addon(&row.addon)?;
            let term = row.term();
            let status = term.status_at(now, grace_ms);
            let enabled =
                status.is_live() && live_base.is_some_and(|p| product.accepts(&p.audience));
            if enabled {
                changes.extend(term.changes_at(now, grace_ms));
                if !enabled_modules.contains(&product.module) {
                    enabled_modules.push(product.module.clone());
                }
            }
            Some(AddonView {
                key: row.addon.clone(),
                module: product.module.clone(),
                status,
                trial_ends_at: opt_rfc3339(row.trial_ends_at),
                enabled,
            })
        })
        .collect();
    Snapshot {
        company_id: company.clone(),
        base_module: live_base.map(|p| p.base_module.clone()),
        enabled_modules,
        subscription: base.map(|(row, package, status)| SubscriptionView {
            package: row.package.clone(),
            audience: package.audience.clone(),
            status,
            trial_ends_at: opt_rfc3339(row.trial_ends_at),
            past_due_since: opt_rfc3339(row.past_due_since),
            started_at: rfc3339(row.started_at),
        }),
        addons,
        entitlement_version: version,
        changes_at: changes.into_iter().min().map(rfc3339),
        generated_at: rfc3339(now),
    }
}

// ---- Handlers ----

/// What the company owns now: base module, enabled modules (computed), the base
/// subscription, addons, and the entitlement version access caches are keyed by.
#[utoipa::path(get, path = "/internal/companies/{id}/entitlements", tag = "entitlements",
    params(("id" = String, Path)),
    responses((status = 200, body = Snapshot), (status = 404, body = Problem)), security(("internal_key" = [])))]
pub async fn get(
    State(state): State<AppState>,
    _caller: InternalCaller,
    Path(id): Path<CompanyId>,
) -> ApiResult<ApiJson<Snapshot>> {
    let mut conn = state.db.pool.acquire().await?;
    companies::find(&mut conn, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("company"))?;
    let snapshot = snapshot(
        &mut conn,
        &state.catalog,
        &id,
        state.clock.now_ms(),
        state.config.grace_days * DAY_MS,
    )
    .await?;
    Ok(ApiJson(snapshot))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub version: i64,
    /// `subscription_started`, `subscription_changed`, `package_switched`, `addon_changed`,
    /// `trial_ending`, `trial_expired`, `grace_ended`.
    pub change_type: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    pub actor: String,
    /// `checkout`, `admin` or `system`.
    pub source: String,
    pub created_at: String,
}

/// Every change of what the company owns, newest first.
#[utoipa::path(get, path = "/internal/companies/{id}/history", tag = "entitlements",
    params(("id" = String, Path), PageParams),
    responses((status = 200, body = List<HistoryEntry>), (status = 404, body = Problem)), security(("internal_key" = [])))]
pub async fn history(
    State(state): State<AppState>,
    _caller: InternalCaller,
    Path(id): Path<CompanyId>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<List<HistoryEntry>>> {
    let page = page.parse()?;
    let mut conn = state.db.pool.acquire().await?;
    companies::find(&mut conn, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("company"))?;
    let before_version: i64 = match page.bound().as_str() {
        "" => i64::MAX,
        cursor => cursor
            .parse()
            .map_err(|_| ApiError::invalid("cursor", "not a cursor of this list"))?,
    };
    let rows: Vec<(i64, String, String, String, String, String, i64)> = sqlx::query_as(
        "SELECT version, change_type, before_json, after_json, actor, source, created_at \
         FROM entitlement_history WHERE company_id = $1 AND version < $2 \
         ORDER BY version DESC LIMIT $3",
    )
    .bind(id.as_str())
    .bind(before_version)
    .bind(page.fetch_limit())
    .fetch_all(&mut *conn)
    .await?;
    let entries = rows
        .into_iter()
        .map(
            |(version, change_type, before, after, actor, source, created_at)| HistoryEntry {
                version,
                change_type,
                before: serde_json::from_str(&before).unwrap_or_default(),
                after: serde_json::from_str(&after).unwrap_or_default(),
                actor,
                source,
                created_at: rfc3339(created_at),
            },
        )
        .collect();
    Ok(ApiJson(
        page.finish_keyed(entries, |e| e.version.to_string()).into(),
    ))
}
