//! SQL of the subscription and addon rows (tables owned by `core`).

use crate::ids::CompanyId;
use crate::platform::clock::Millis;
use crate::platform::db::Tx;
use crate::platform::error::{ApiError, ApiResult, is_unique_violation};
use crate::platform::ids::new_id;

use super::super::entitlements::Status;

pub struct NewSubscription<'a> {
    pub company: &'a CompanyId,
    pub package: &'a str,
    pub status: Status,
    pub trial_ends_at: Option<Millis>,
}

/// Inserts a live base subscription. A second live row for the company fails in the
/// database (`company_subscriptions_one_live`), whoever races to write it.
pub async fn insert_subscription(
    tx: &mut Tx,
    new: NewSubscription<'_>,
    now: Millis,
) -> ApiResult<()> {
    let past_due_since = (new.status == Status::PastDue).then_some(now);
    let inserted = sqlx::query(
        "INSERT INTO company_subscriptions (id, company_id, package, status, trial_ends_at, \
         past_due_since, trial_notice_at, started_at, ended_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, NULL, $7)",
    )
    .bind(new_id())
    .bind(new.company.as_str())
    .bind(new.package)
    .bind(new.status.as_str())
    .bind(new.trial_ends_at)
    .bind(past_due_since)
    .bind(now)
    .execute(&mut **tx)
    .await;
    match inserted {
        Err(err) if is_unique_violation(&err) => Err(ApiError::conflict(
            "subscription_conflict",
            "the company already has a live base subscription",
        )),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

/// Moves a subscription row to `status`. `past_due_since` is set on entering `past_due` and
/// kept while it lasts; `ended_at` is set when the row stops being live.
pub async fn update_subscription(
    tx: &mut Tx,
    id: &str,
    status: Status,
    trial_ends_at: Option<Millis>,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE company_subscriptions SET status = $2, trial_ends_at = $3, \
         past_due_since = CASE WHEN $2 = 'past_due' THEN COALESCE(past_due_since, $4) ELSE NULL END, \
         ended_at = CASE WHEN $2 IN ('canceled', 'expired') THEN $4 ELSE NULL END, \
         updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(trial_ends_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn mark_subscription_notice(
    tx: &mut Tx,
    id: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE company_subscriptions SET trial_notice_at = $2, updated_at = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes the company's row of an addon (one per company and addon).
pub async fn upsert_addon(
    tx: &mut Tx,
    company: &CompanyId,
    addon: &str,
    status: Status,
    trial_ends_at: Option<Millis>,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO company_addons (company_id, addon, status, trial_ends_at, past_due_since, \
         trial_notice_at, started_at, updated_at) \
         VALUES ($1, $2, $3, $4, CASE WHEN $3 = 'past_due' THEN $5 ELSE NULL END, NULL, $5, $5) \
         ON CONFLICT (company_id, addon) DO UPDATE SET status = excluded.status, \
         trial_ends_at = excluded.trial_ends_at, \
         past_due_since = CASE WHEN excluded.status = 'past_due' \
             THEN COALESCE(company_addons.past_due_since, excluded.updated_at) ELSE NULL END, \
         trial_notice_at = CASE WHEN excluded.status = 'trial' \
             AND company_addons.trial_ends_at = excluded.trial_ends_at \
             THEN company_addons.trial_notice_at ELSE NULL END, \
         started_at = CASE WHEN company_addons.status IN ('canceled', 'expired') \
             THEN excluded.started_at ELSE company_addons.started_at END, \
         updated_at = excluded.updated_at",
    )
    .bind(company.as_str())
    .bind(addon)
    .bind(status.as_str())
    .bind(trial_ends_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn mark_addon_notice(
    tx: &mut Tx,
    company: &CompanyId,
    addon: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE company_addons SET trial_notice_at = $3, updated_at = $3 \
         WHERE company_id = $1 AND addon = $2",
    )
    .bind(company.as_str())
    .bind(addon)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Bumps the company's entitlement version; the new version.
pub async fn bump_version(
    tx: &mut Tx,
    company: &CompanyId,
    now: Millis,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE company_entitlement_versions SET version = version + 1, updated_at = $2 \
         WHERE company_id = $1 RETURNING version",
    )
    .bind(company.as_str())
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

pub struct HistoryRow<'a> {
    pub company: &'a CompanyId,
    pub change_type: &'a str,
    pub before: &'a serde_json::Value,
    pub after: &'a serde_json::Value,
    pub actor: &'a str,
    pub source: &'a str,
    pub version: i64,
}

pub async fn insert_history(
    tx: &mut Tx,
    row: HistoryRow<'_>,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO entitlement_history (id, company_id, change_type, before_json, after_json, \
         actor, source, version, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new_id())
    .bind(row.company.as_str())
    .bind(row.change_type)
    .bind(row.before.to_string())
    .bind(row.after.to_string())
    .bind(row.actor)
    .bind(row.source)
    .bind(row.version)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Companies with a transition due by `now` (or a trial notice due by `notice_by`).
pub async fn due_companies(
    pool: &sqlx::AnyPool,
    now: Millis,
    notice_by: Millis,
    grace_start: Millis,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT company_id FROM company_subscriptions WHERE \
           (status = 'trial' AND (trial_ends_at <= $1 OR (trial_notice_at IS NULL AND trial_ends_at <= $2))) \
           OR (status = 'past_due' AND past_due_since <= $3) \
         UNION \
         SELECT company_id FROM company_addons WHERE \
           (status = 'trial' AND (trial_ends_at <= $1 OR (trial_notice_at IS NULL AND trial_ends_at <= $2))) \
           OR (status = 'past_due' AND past_due_since <= $3) \
         LIMIT 500",
    )
    .bind(now)
    .bind(notice_by)
    .bind(grace_start)
    .fetch_all(pool)
    .await
}
