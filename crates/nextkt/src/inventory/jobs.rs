//! Background inventory work, safe to run in every process at once: the sweeper returns
//! expired holds to sale within a second, and the auditor recomputes availability from the
//! holds themselves and reports any drift from the counters.

use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use super::pools;
use crate::platform::clock::Millis;
use crate::platform::db::Db;

pub const SWEEP_EVERY: Duration = Duration::from_millis(500);
pub const AUDIT_EVERY: Duration = Duration::from_secs(30);

/// Returns expired holds to sale. Returns how many units and seats came back.
pub async fn sweep(db: &Db, now: Millis) -> Result<i64, sqlx::Error> {
    let pools_with_expired: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT ticket_type_id FROM holds WHERE status = 'active' AND seat_id IS NULL \
         AND expires_at <= $1 LIMIT 200",
    )
    .bind(now)
    .fetch_all(&db.pool)
    .await?;
    let mut returned = 0;
    for pool in pools_with_expired {
        returned += pools::sweep(db, &pool, now).await?;
    }
    let mut tx = db.begin().await?;
    let seats = sqlx::query(
        "UPDATE holds SET status = 'expired', updated_at = $1 WHERE status = 'active' \
         AND seat_id IS NOT NULL AND expires_at <= $1",
    )
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM seat_claims WHERE kind = 'hold' AND expires_at <= $1")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    if seats.rows_affected() > 0 {
        metrics::counter!("nextkt_holds_expired_total").increment(seats.rows_affected());
    }
    Ok(returned + seats.rows_affected() as i64)
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

#[derive(sqlx::FromRow)]
struct PoolAudit {
    ticket_type_id: String,
    capacity: i64,
    held: i64,
    sold: i64,
    active_held: i64,
    live_held: i64,
    issued: i64,
}

/// Recomputes every pool (of one organization, or all) from its holds.
pub async fn audit(db: &Db, org_id: Option<&str>, now: Millis) -> Result<AuditReport, sqlx::Error> {
    let rows: Vec<PoolAudit> = sqlx::query_as(
        "SELECT p.ticket_type_id, p.capacity, p.held, p.sold, \
           (SELECT CAST(COALESCE(SUM(h.quantity), 0) AS BIGINT) FROM holds h WHERE h.ticket_type_id = p.ticket_type_id \
              AND h.seat_id IS NULL AND h.status = 'active') AS active_held, \
           (SELECT CAST(COALESCE(SUM(h.quantity), 0) AS BIGINT) FROM holds h WHERE h.ticket_type_id = p.ticket_type_id \
              AND h.seat_id IS NULL AND h.status = 'active' AND h.expires_at > $1) AS live_held, \
           (SELECT COUNT(*) FROM tickets t WHERE t.ticket_type_id = p.ticket_type_id \
              AND t.seat_id IS NULL AND t.inventory_released_at IS NULL) AS issued \
         FROM inventory_pools p WHERE ($2 = '' OR p.organization_id = $2)",
    )
    .bind(now)
    .bind(org_id.unwrap_or_default().to_string())
    .fetch_all(&db.pool)
    .await?;
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
    report.duplicate_claims = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT seat_id FROM ( \
           SELECT seat_id, organization_id FROM holds WHERE seat_id IS NOT NULL AND status = 'active' AND expires_at > $1 \
           UNION ALL SELECT seat_id, organization_id FROM tickets WHERE seat_id IS NOT NULL AND status = 'valid') c \
         WHERE ($2 = '' OR organization_id = $2) GROUP BY seat_id HAVING COUNT(*) > 1) d",
    )
    .bind(now)
    .bind(org_id.unwrap_or_default().to_string())
    .fetch_one(&db.pool)
    .await?;
    let orphan_claims: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM seat_claims c WHERE c.kind = 'hold' AND c.expires_at > $1 \
         AND ($2 = '' OR c.organization_id = $2) AND NOT EXISTS (SELECT 1 FROM holds h \
         WHERE h.id = c.hold_id AND h.seat_id = c.seat_id AND h.status = 'active')",
    )
    .bind(now)
    .bind(org_id.unwrap_or_default().to_string())
    .fetch_one(&db.pool)
    .await?;
    report.drift += orphan_claims;
    report.seats_checked =
        sqlx::query_scalar("SELECT COUNT(*) FROM seats WHERE ($1 = '' OR organization_id = $1)")
            .bind(org_id.unwrap_or_default().to_string())
            .fetch_one(&db.pool)
            .await?;
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

/// Recompute this organization's inventory now: oversold pools, doubly claimed seats, and
/// counter drift (all 0 when the invariant holds).
#[utoipa::path(
    get, path = "/admin/inventory/audit", tag = "events",
    responses((status = 200, body = AuditReport)),
    security(("bearer" = []))
)]
pub async fn audit_endpoint(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    access: crate::tenancy::access::AdminAccess,
) -> crate::platform::error::ApiResult<crate::platform::json::ApiJson<AuditReport>> {
    access.require(crate::tenancy::roles::Permission::ReadOrganization)?;
    let report = audit(&state.db, Some(&access.org_id), state.clock.now_ms()).await?;
    Ok(crate::platform::json::ApiJson(report))
}
