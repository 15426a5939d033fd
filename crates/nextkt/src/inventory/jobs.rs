//! Background inventory work, safe to run in every process at once: the sweeper returns
//! expired holds to sale within a second, and the auditor recomputes availability from the
//! holds themselves and reports any drift from the counters. The SQL is in `store`.

use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use super::{pools, store};
use crate::platform::clock::Millis;
use crate::platform::db::Db;

// A glob, so the `__path_*` item `#[utoipa::path]` generates beside the handler comes
// along: the router names it `inventory::jobs::audit_endpoint`.
pub use super::handlers::*;

pub const SWEEP_EVERY: Duration = Duration::from_millis(500);
pub const AUDIT_EVERY: Duration = Duration::from_secs(30);

/// Returns expired holds to sale. Returns how many units and seats came back.
#[tracing::instrument(skip_all)]
pub async fn sweep(db: &Db, now: Millis) -> Result<i64, sqlx::Error> {
    let pools_with_expired = store::pools_with_expired(db, now).await?;
    let mut returned = 0;
    for pool in pools_with_expired {
        returned += pools::sweep(db, &pool, now).await?;
    }
    let mut tx = db.begin().await?;
    let seats = store::expire_seat_holds(&mut tx, now).await?;
    store::delete_expired_claims(&mut tx, now).await?;
    tx.commit().await?;
    if seats > 0 {
        metrics::counter!("nextkt_holds_expired_total").increment(seats);
    }
    Ok(returned + seats as i64)
}

/// What the auditor found.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct AuditReport {
    /// Pools whose issued tickets + live held units exceed capacity (must be 0).
    pub oversold: i64,
    /// Seats with more than one live hold or valid ticket (must be 0).
    pub duplicate_claims: i64,
    /// Pools whose `held` counter differs from the sum of their active holds or whose `sold`
    /// counter differs from their valid tickets, plus seat hold claims that do not match a
    /// live seat hold (0 when counters are exact).
    pub drift: i64,
    pub pools_checked: i64,
    pub seats_checked: i64,
    /// Units in live holds across the pools checked.
    pub live_held: i64,
    pub database: String,
}

/// Recomputes every pool (of one organization, or all) from its holds.
#[tracing::instrument(skip_all, fields(org = org_id))]
pub async fn audit(db: &Db, org_id: Option<&str>, now: Millis) -> Result<AuditReport, sqlx::Error> {
    let rows = store::pool_audits(db, org_id, now).await?;
    let mut report = AuditReport {
        pools_checked: rows.len() as i64,
        database: db.dialect.name().to_string(),
        ..Default::default()
    };
    for row in &rows {
        report.live_held += row.live_held;
        if row.issued.max(row.sold) + row.live_held > row.capacity {
            report.oversold += 1;
            tracing::error!(ticket_type = %row.ticket_type_id, capacity = row.capacity, issued = row.issued,
                live_held = row.live_held, "auditor: pool oversold");
        }
        if row.sold != row.issued {
            report.drift += 1;
            tracing::warn!(ticket_type = %row.ticket_type_id, counter = row.sold, issued = row.issued,
                "auditor: sold counter differs from the tickets issued");
        }
        if row.held != row.active_held {
            report.drift += 1;
            tracing::warn!(ticket_type = %row.ticket_type_id, counter = row.held, actual = row.active_held,
                "auditor: held counter drifted");
        }
    }
    // A seat's live claims: live holds plus valid tickets; more than one is a double sale.
    report.duplicate_claims = store::doubly_claimed_seats(db, org_id, now).await?;
    report.drift += store::orphan_claims(db, org_id, now).await?;
    report.seats_checked = store::seat_count(db, org_id).await?;
    if report.duplicate_claims > 0 {
        tracing::error!(
            seats = report.duplicate_claims,
            "auditor: seats claimed more than once"
        );
    }
    Ok(report)
}

/// Runs the sweeper and the auditor until the task is dropped.
/// The auditor's round: audits every pool and publishes the figures as gauges.
pub async fn audit_and_report(db: &Db, now: Millis) -> anyhow::Result<()> {
    let report = audit(db, None, now).await?;
    metrics::gauge!("nextkt_inventory_oversold").set(report.oversold as f64);
    metrics::gauge!("nextkt_inventory_duplicate_claims").set(report.duplicate_claims as f64);
    metrics::gauge!("nextkt_inventory_drift").set(report.drift as f64);
    metrics::counter!("nextkt_auditor_runs_total").increment(1);
    Ok(())
}
