//! Background jobs, run the same way by every service: each on its own period, in every
//! process at once, claiming its work through the database so two processes never do the
//! same piece twice.

use std::future::Future;
use std::time::Duration;

use crate::db::Dialect;

/// A claim on due rows of a work table that has `id` and `next_attempt_at` columns: the
/// claimed rows' `next_attempt_at` moves to the end of the lease, so no other worker takes
/// them meanwhile and a crashed worker's rows come back when the lease runs out.
/// PostgreSQL skips rows another process is claiming (`FOR UPDATE SKIP LOCKED`); SQLite's
/// single writer needs nothing.
#[derive(Clone, Copy, Debug)]
pub struct Lease {
    pub table: &'static str,
    /// Which rows are work, besides being due (`status = 'pending'`).
    pub work: &'static str,
    /// Further changes to claimed rows (`attempts = attempts + 1`), or "".
    pub also_set: &'static str,
    pub limit: i64,
    /// The columns the claim returns.
    pub returning: &'static str,
}

impl Lease {
    /// The claiming statement. Binds: `$1` the end of the lease, `$2` now.
    pub fn sql(&self, dialect: Dialect) -> sqlx::AssertSqlSafe<String> {
        let Lease {
            table,
            work,
            also_set,
            limit,
            returning,
        } = self;
        let skip_locked = match dialect {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let also_set = if also_set.is_empty() {
            String::new()
        } else {
            format!(", {also_set}")
        };
        dialect.sql(format!(
            "UPDATE {table} SET next_attempt_at = $1{also_set} WHERE id IN \
             (SELECT id FROM {table} WHERE ({work}) AND next_attempt_at <= $2 \
             ORDER BY next_attempt_at LIMIT {limit}{skip_locked}) \
             RETURNING {returning}"
        ))
    }
}

/// Runs `job` every `period` (a late tick waits rather than bunching up), forever; a
/// failure is logged under the job's name and the next tick tries again.
pub async fn every<F, Fut>(name: &'static str, period: Duration, mut job: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(err) = job().await {
            tracing::warn!(
                job = name,
                error = format!("{err:#}"),
                "background job failed"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_skips_locked_rows_on_postgres_only() {
        let lease = Lease {
            table: "outbox",
            work: "status = 'pending'",
            also_set: "attempts = attempts + 1",
            limit: 20,
            returning: "id",
        };
        assert_eq!(
            lease.sql(Dialect::Postgres).0,
            "UPDATE outbox SET next_attempt_at = $1, attempts = attempts + 1 WHERE id IN \
             (SELECT id FROM outbox WHERE (status = 'pending') AND next_attempt_at <= $2 \
             ORDER BY next_attempt_at LIMIT 20 FOR UPDATE SKIP LOCKED) RETURNING id"
        );
        assert!(
            lease
                .sql(Dialect::Sqlite)
                .0
                .contains("SET next_attempt_at = ?, attempts = attempts + 1 WHERE id IN (SELECT id FROM outbox WHERE (status = 'pending') AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT 20)")
        );
    }
}
