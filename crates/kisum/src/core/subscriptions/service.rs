//! The rules of changing what a company owns. Every change runs in one transaction that
//! locks the company, first records any transition the clock has made due (`settle`), then
//! applies the change, bumps the entitlement version, appends a history row and publishes
//! the whole new snapshot to the outbox.

use serde::Deserialize;
use utoipa::ToSchema;

use super::store::{self, HistoryRow, NewSubscription};
use crate::core::catalog::{Addon, Catalog, Package};
use crate::core::companies::{self, CompanyRow};
use crate::core::entitlements::{self, AddonRow, DAY_MS, Snapshot, Status, SubscriptionRow};
use crate::core::events::{self, ENTITLEMENTS_CHANGED};
use crate::ids::CompanyId;
use crate::platform::clock::{Millis, parse_rfc3339};
use crate::platform::db::{Db, Tx};
use crate::platform::error::{ApiError, ApiResult};
use crate::state::AppState;

pub const SOURCES: [&str; 3] = ["checkout", "admin", "system"];

/// Who made a change, for the history.
#[derive(Clone, Debug)]
pub struct Origin {
    pub actor: String,
    /// `checkout`, `admin` or `system`.
    pub source: &'static str,
}

impl Origin {
    pub fn system() -> Origin {
        Origin {
            actor: "system".into(),
            source: "system",
        }
    }

    /// From a request body's optional `actor` and `source` (default: `internal`, `admin`).
    pub fn parse(actor: Option<&str>, source: Option<&str>) -> ApiResult<Origin> {
        let source = match source {
            None => "admin",
            Some(s) => SOURCES.iter().copied().find(|k| *k == s).ok_or_else(|| {
                ApiError::invalid("source", "source must be checkout, admin or system")
            })?,
        };
        let actor = match actor {
            None => "internal".to_string(),
            Some(a) => crate::platform::validate::text("actor", a, 200)?,
        };
        Ok(Origin { actor, source })
    }
}

/// Settings the rules need.
#[derive(Clone, Copy, Debug)]
pub struct Terms {
    pub grace_ms: Millis,
    pub notice_ms: Millis,
}

impl Terms {
    pub fn of(state: &AppState) -> Terms {
        Terms {
            grace_ms: state.config.grace_days * DAY_MS,
            notice_ms: state.config.trial_notice_days * DAY_MS,
        }
    }
}

/// One open change: the locked company and the snapshot before it.
pub struct Change<'a> {
    pub db: &'a Db,
    pub catalog: &'a Catalog,
    pub terms: Terms,
    pub company: CompanyRow,
    pub now: Millis,
}

impl Change<'_> {
    pub async fn snapshot(&self, tx: &mut Tx) -> Result<Snapshot, sqlx::Error> {
        entitlements::snapshot(
            tx,
            self.catalog,
            &self.company.id,
            self.now,
            self.terms.grace_ms,
        )
        .await
    }

    /// Records a change made in this transaction: bumps the version, appends the history
    /// row and publishes the new snapshot. Answers the snapshot after.
    pub async fn record(
        &self,
        tx: &mut Tx,
        change_type: &str,
        before: &Snapshot,
        origin: &Origin,
    ) -> Result<Snapshot, sqlx::Error> {
        let version = store::bump_version(tx, &self.company.id, self.now).await?;
        let after = self.snapshot(tx).await?;
        debug_assert_eq!(after.entitlement_version, version);
        let before_json = serde_json::to_value(before).unwrap_or_default();
        let after_json = serde_json::to_value(&after).unwrap_or_default();
        store::insert_history(
            tx,
            HistoryRow {
                company: &self.company.id,
                change_type,
                before: &before_json,
                after: &after_json,
                actor: &origin.actor,
                source: origin.source,
                version,
            },
            self.now,
        )
        .await?;
        let payload = serde_json::json!({
            "type": ENTITLEMENTS_CHANGED,
            "reason": change_type,
            "source": origin.source,
            "companyId": self.company.id,
            "entitlementVersion": version,
            "snapshot": after_json,
        });
        events::publish(
            tx,
            ENTITLEMENTS_CHANGED,
            Some(self.company.id.as_str()),
            &payload,
            self.now,
        )
        .await?;
        Ok(after)
    }
}

/// Opens a change of the company: locks it, and records what the clock has made due.
pub async fn begin<'a>(
    state: &'a AppState,
    tx: &mut Tx,
    company: &CompanyId,
) -> ApiResult<Change<'a>> {
    let company = companies::lock(&state.db, tx, company).await?;
    let change = Change {
        db: &state.db,
        catalog: &state.catalog,
        terms: Terms::of(state),
        company,
        now: state.clock.now_ms(),
    };
    settle(&change, tx).await?;
    Ok(change)
}

/// Records every transition the clock has made due for the company: trial ending (a notice,
/// once per trial), trial expired, grace ended; base subscription first, then addons. Each
/// is its own version, history row and event.
pub async fn settle(change: &Change<'_>, tx: &mut Tx) -> Result<usize, sqlx::Error> {
    let (now, terms) = (change.now, change.terms);
    let system = Origin::system();
    let mut recorded = 0;
    if let Some(sub) = entitlements::current_subscription(tx, &change.company.id).await? {
        let term = sub.term();
        if term.status.is_live() && term.status_at(now, terms.grace_ms) == Status::Expired {
            let before = change.snapshot(tx).await?;
            let kind = if term.status == Status::Trial {
                "trial_expired"
            } else {
                "grace_ended"
            };
            store::update_subscription(tx, &sub.id, Status::Expired, sub.trial_ends_at, now)
                .await?;
            change.record(tx, kind, &before, &system).await?;
            recorded += 1;
        } else if notice_due(
            term.status,
            sub.trial_ends_at,
            sub.trial_notice_at,
            now,
            terms,
        ) {
            let before = change.snapshot(tx).await?;
            store::mark_subscription_notice(tx, &sub.id, now).await?;
            change.record(tx, "trial_ending", &before, &system).await?;
            recorded += 1;
        }
    }
    for addon in entitlements::addon_rows(tx, &change.company.id).await? {
        let term = addon.term();
        if term.status.is_live() && term.status_at(now, terms.grace_ms) == Status::Expired {
            let before = change.snapshot(tx).await?;
            let kind = if term.status == Status::Trial {
                "trial_expired"
            } else {
                "grace_ended"
            };
            store::upsert_addon(
                tx,
                &change.company.id,
                &addon.addon,
                Status::Expired,
                addon.trial_ends_at,
                now,
            )
            .await?;
            change.record(tx, kind, &before, &system).await?;
            recorded += 1;
        } else if notice_due(
            term.status,
            addon.trial_ends_at,
            addon.trial_notice_at,
            now,
            terms,
        ) {
            let before = change.snapshot(tx).await?;
            store::mark_addon_notice(tx, &change.company.id, &addon.addon, now).await?;
            change.record(tx, "trial_ending", &before, &system).await?;
            recorded += 1;
        }
    }
    Ok(recorded)
}

fn notice_due(
    status: Status,
    trial_ends_at: Option<Millis>,
    notice_at: Option<Millis>,
    now: Millis,
    terms: Terms,
) -> bool {
    status == Status::Trial
        && notice_at.is_none()
        && trial_ends_at.is_some_and(|end| end > now && end - terms.notice_ms <= now)
}

/// The body of `PUT /internal/companies/{id}/subscription`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetSubscription {
    /// A package key (`basic_promoter`, ...).
    pub package: String,
    /// `trial`, `active`, `past_due`, `canceled` or `expired`.
    pub status: String,
    /// For a trial: when it ends (RFC 3339); default now + the package's trial days.
    pub trial_ends_at: Option<String>,
    /// Required (true) to replace a live subscription of another package: changing persona
    /// is always explicit.
    #[serde(default)]
    pub switch: bool,
    /// Who asks (for the history); default `internal`.
    pub actor: Option<String>,
    /// `checkout`, `admin` (default) or `system`.
    pub source: Option<String>,
}

fn parse_status(text: &str) -> ApiResult<Status> {
    Status::parse(text).ok_or_else(|| {
        ApiError::invalid(
            "status",
            "status must be trial, active, past_due, canceled or expired",
        )
    })
}

fn trial_end(
    given: Option<&str>,
    trial_days: i64,
    cap: Option<Millis>,
    now: Millis,
) -> ApiResult<Millis> {
    let end = match given {
        Some(text) => parse_rfc3339(text)
            .ok_or_else(|| ApiError::invalid("trialEndsAt", "trialEndsAt must be RFC 3339"))?,
        None => now + trial_days * DAY_MS,
    };
    if end <= now {
        return Err(ApiError::invalid(
            "trialEndsAt",
            "trialEndsAt must be in the future",
        ));
    }
    Ok(cap.map_or(end, |cap| end.min(cap)))
}

/// Which status moves a row may make (a row that is not live can start again as a new
/// subscription or a re-bought addon).
fn check_move(from: Status, to: Status) -> ApiResult<()> {
    let allowed = match (from, to) {
        (a, b) if a == b => true,
        (Status::Trial, _) => true,
        (Status::Active | Status::PastDue, Status::Trial) => false,
        (Status::Active | Status::PastDue, _) => true,
        (Status::Canceled | Status::Expired, _) => to.is_live(),
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::rule(
            "invalid_transition",
            format!(
                "a subscription cannot go from {} to {}",
                from.as_str(),
                to.as_str()
            ),
        ))
    }
}

fn trial_not_available(what: &str) -> ApiError {
    ApiError::rule(
        "trial_not_available",
        format!("{what} has no trial; it must be paid"),
    )
}

/// The trial rule: a company that has had a trial gets no second one.
fn trial_already_used() -> ApiError {
    ApiError::rule(
        "trial_already_used",
        "this company has already had its free trial",
    )
}

/// Sets the company's base subscription. Answers the snapshot after (unchanged, with no
/// new version, when the request changes nothing).
pub async fn set_subscription(
    state: &AppState,
    tx: &mut Tx,
    company: &CompanyId,
    body: &SetSubscription,
    origin: &Origin,
) -> ApiResult<Snapshot> {
    let status = parse_status(&body.status)?;
    let package = state
        .catalog
        .package(&body.package)
        .ok_or_else(|| ApiError::rule("unknown_package", format!("no package {:?}", body.package)))?
        .clone();
    let change = begin(state, tx, company).await?;
    let before = change.snapshot(tx).await?;
    let current = entitlements::current_subscription(tx, company)
        .await?
        .filter(|row| row.term().status.is_live());
    let now = change.now;
    let kind = match current {
        None => {
            start(&change, tx, &package, status, body, now).await?;
            "subscription_started"
        }
        Some(row) if row.package == package.key => {
            if !change_in_place(tx, &row, status, body, now).await? {
                return Ok(before);
            }
            "subscription_changed"
        }
        Some(row) => {
            if !body.switch {
                return Err(ApiError::conflict(
                    "package_switch_required",
                    format!(
                        "the company's live package is {}; send \"switch\": true to replace it",
                        row.package
                    ),
                ));
            }
            if !status.is_live() {
                return Err(ApiError::rule(
                    "invalid_transition",
                    "a switch must start the new package as trial, active or past_due",
                ));
            }
            store::update_subscription(tx, &row.id, Status::Canceled, row.trial_ends_at, now)
                .await?;
            start(&change, tx, &package, status, body, now).await?;
            "package_switched"
        }
    };
    Ok(change.record(tx, kind, &before, origin).await?)
}

async fn start(
    change: &Change<'_>,
    tx: &mut Tx,
    package: &Package,
    status: Status,
    body: &SetSubscription,
    now: Millis,
) -> ApiResult<()> {
    if !status.is_live() {
        return Err(ApiError::conflict(
            "no_live_subscription",
            "the company has no live base subscription to change",
        ));
    }
    let trial_ends_at = if status == Status::Trial {
        if !package.trial_enabled {
            return Err(trial_not_available(&package.key));
        }
        if change.company.had_trial != 0 {
            return Err(trial_already_used());
        }
        companies::mark_had_trial(tx, &change.company.id, now).await?;
        Some(trial_end(
            body.trial_ends_at.as_deref(),
            package.trial_days,
            None,
            now,
        )?)
    } else {
        None
    };
    store::insert_subscription(
        tx,
        NewSubscription {
            company: &change.company.id,
            package: &package.key,
            status,
            trial_ends_at,
        },
        now,
    )
    .await
}

/// Moves the live row of the same package; false when nothing changes.
async fn change_in_place(
    tx: &mut Tx,
    row: &SubscriptionRow,
    status: Status,
    body: &SetSubscription,
    now: Millis,
) -> ApiResult<bool> {
    let from = row.term().status;
    check_move(from, status)?;
    let trial_ends_at = match (from, status) {
        (Status::Trial, Status::Trial) => match body.trial_ends_at.as_deref() {
            Some(_) => Some(trial_end(body.trial_ends_at.as_deref(), 0, None, now)?),
            None => row.trial_ends_at,
        },
        _ => None,
    };
    if from == status && trial_ends_at == row.trial_ends_at {
        return Ok(false);
    }
    store::update_subscription(tx, &row.id, status, trial_ends_at, now).await?;
    Ok(true)
}

/// The body of `PUT /internal/companies/{id}/addons/{addonKey}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetAddon {
    /// `trial`, `active`, `past_due`, `canceled` or `expired`.
    pub status: String,
    /// For a trial: when it ends (RFC 3339); default now + the addon's trial days, never
    /// past the end of a base trial.
    pub trial_ends_at: Option<String>,
    pub actor: Option<String>,
    pub source: Option<String>,
}

/// Sets the company's row of an addon.
pub async fn set_addon(
    state: &AppState,
    tx: &mut Tx,
    company: &CompanyId,
    addon_key: &str,
    body: &SetAddon,
    origin: &Origin,
) -> ApiResult<Snapshot> {
    let status = parse_status(&body.status)?;
    let addon: Addon = state
        .catalog
        .addon(addon_key)
        .ok_or_else(|| ApiError::not_found("addon"))?
        .clone();
    let change = begin(state, tx, company).await?;
    let now = change.now;
    let before = change.snapshot(tx).await?;
    let existing: Option<AddonRow> = entitlements::addon_rows(tx, company)
        .await?
        .into_iter()
        .find(|r| r.addon == addon.key);
    let from = existing.as_ref().map(|r| r.term().status);
    if status.is_live() {
        let base = before
            .subscription
            .as_ref()
            .filter(|s| s.status.is_live())
            .ok_or_else(|| {
                ApiError::rule(
                    "base_subscription_required",
                    "an addon needs a live base subscription",
                )
            })?;
        if !addon.accepts(&base.audience) {
            return Err(ApiError::rule(
                "addon_not_available",
                format!(
                    "the {} addon does not attach to the {} persona",
                    addon.key, base.audience
                ),
            ));
        }
    }
    match from {
        Some(from) => check_move(from, status)?,
        None if !status.is_live() => {
            return Err(ApiError::conflict(
                "addon_not_active",
                "the company does not have this addon",
            ));
        }
        None => {}
    }
    let trial_ends_at = if status == Status::Trial {
        if from == Some(Status::Trial) && body.trial_ends_at.is_none() {
            existing.as_ref().and_then(|r| r.trial_ends_at)
        } else {
            // A trial addon is allowed before the company's first trial, or alongside a
            // base trial (signup buys both at once); it never outlasts the base trial.
            let base_trial_end = before
                .subscription
                .as_ref()
                .filter(|s| s.status == Status::Trial)
                .and_then(|s| s.trial_ends_at.as_deref())
                .and_then(parse_rfc3339);
            if !addon.trial_enabled {
                return Err(trial_not_available(&addon.key));
            }
            let extending = from == Some(Status::Trial);
            if !extending && base_trial_end.is_none() && change.company.had_trial != 0 {
                return Err(trial_already_used());
            }
            companies::mark_had_trial(tx, company, now).await?;
            Some(trial_end(
                body.trial_ends_at.as_deref(),
                addon.trial_days,
                base_trial_end,
                now,
            )?)
        }
    } else {
        None
    };
    if let Some(row) = &existing
        && from == Some(status)
        && row.trial_ends_at == trial_ends_at
    {
        return Ok(before);
    }
    store::upsert_addon(tx, company, &addon.key, status, trial_ends_at, now).await?;
    Ok(change.record(tx, "addon_changed", &before, origin).await?)
}

/// The sweeper's pass: settles every company with a transition due. Answers how many
/// transitions it recorded.
pub async fn sweep(state: &AppState) -> anyhow::Result<usize> {
    let terms = Terms::of(state);
    let now = state.clock.now_ms();
    let due = store::due_companies(
        &state.db.pool,
        now,
        now + terms.notice_ms,
        now - terms.grace_ms,
    )
    .await?;
    let mut recorded = 0;
    for company in due {
        let mut tx = state.db.begin().await?;
        let company = CompanyId::from(company);
        let row = companies::lock(&state.db, &mut tx, &company)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let change = Change {
            db: &state.db,
            catalog: &state.catalog,
            terms,
            company: row,
            now,
        };
        recorded += settle(&change, &mut tx).await?;
        tx.commit().await?;
    }
    Ok(recorded)
}
