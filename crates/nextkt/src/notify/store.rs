//! The worker's SQL: leasing due emails from the outbox and recording how sending went.
//! (Queuing an email is `outbox::enqueue`.)

use crate::platform::clock::Millis;
use crate::platform::db::Db;
use service::jobs::Lease;

/// Emails claimed at once.
pub const BATCH: i64 = 20;

/// An email claimed for sending.
#[derive(sqlx::FromRow)]
pub struct Queued {
    pub id: String,
    pub template: String,
    pub locale: String,
    pub to_address: String,
    pub payload_json: String,
    pub attempts: i64,
}

const CLAIM: Lease = Lease {
    table: "outbox",
    work: "status IN ('pending', 'sending')",
    also_set: "status = 'sending', attempts = attempts + 1",
    limit: BATCH,
    returning: "id, template, locale, to_address, payload_json, attempts",
};

/// Leases up to `BATCH` emails until `lease_until`: pending rows that are due, and rows
/// whose sender's lease ran out.
pub async fn claim_due(
    db: &Db,
    lease_until: Millis,
    now: Millis,
) -> Result<Vec<Queued>, sqlx::Error> {
    sqlx::query_as(CLAIM.sql(db.dialect))
        .bind(lease_until)
        .bind(now)
        .fetch_all(&db.pool)
        .await
}

pub async fn mark_sent(db: &Db, id: &str, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE outbox SET status = 'sent', sent_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id.to_string())
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Records a failed send: tried again at `next_attempt_at`, or given up on.
pub async fn mark_not_sent(
    db: &Db,
    id: &str,
    give_up: bool,
    next_attempt_at: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE outbox SET status = $1, next_attempt_at = $2 WHERE id = $3")
        .bind(if give_up { "failed" } else { "pending" })
        .bind(next_attempt_at)
        .bind(id.to_string())
        .execute(&db.pool)
        .await?;
    Ok(())
}
