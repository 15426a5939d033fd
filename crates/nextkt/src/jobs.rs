//! Nextkt's background jobs, each named for what it does. All are safe to run in every
//! process at once (they claim their work through the database); `--run-jobs false` keeps
//! a process to answering requests, except housekeeping of its own memory.

use std::time::Duration;

use service::jobs::every;
use tokio::task::JoinHandle;

use crate::commerce::orders;
use crate::inventory::jobs as inventory;
use crate::notify::worker::{self as email, Transport};
use crate::payments::refunds;
use crate::platform::idempotency;
use crate::state::AppState;

/// Starts the jobs this process runs; the caller aborts them at shutdown.
pub fn start(state: &AppState, transport: Transport) -> Vec<JoinHandle<()>> {
    let mut jobs = vec![spawn(housekeeping(state.clone()))];
    if !state.config.run_jobs {
        return jobs;
    }
    if state.kisum.is_some() {
        let s = state.clone();
        jobs.push(spawn(every(
            "kisum snapshot refresh",
            crate::kisum::snapshots::period(),
            move || {
                let s = s.clone();
                async move {
                    crate::kisum::snapshots::refresh_once(&s).await?;
                    Ok(())
                }
            },
        )));
    }
    let s = state.clone();
    jobs.push(spawn(every(
        "hold sweeper",
        inventory::SWEEP_EVERY,
        move || {
            let s = s.clone();
            async move {
                inventory::sweep(&s.db, s.clock.now_ms()).await?;
                Ok(())
            }
        },
    )));
    let s = state.clone();
    jobs.push(spawn(every(
        "inventory auditor",
        inventory::AUDIT_EVERY,
        move || {
            let s = s.clone();
            async move { inventory::audit_and_report(&s.db, s.clock.now_ms()).await }
        },
    )));
    let s = state.clone();
    jobs.push(spawn(every(
        "order expiry",
        Duration::from_secs(1),
        move || {
            let s = s.clone();
            async move {
                orders::expire_due(&s, s.clock.now_ms())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                Ok(())
            }
        },
    )));
    let s = state.clone();
    jobs.push(spawn(every(
        "refund submission",
        Duration::from_secs(1),
        move || {
            let s = s.clone();
            async move {
                refunds::submit_due(&s, s.clock.now_ms()).await?;
                Ok(())
            }
        },
    )));
    jobs.push(spawn(email::run(state.clone(), transport)));
    tracing::info!(
        jobs = "hold sweeper, inventory auditor, order expiry, refund submission, email delivery, housekeeping",
        "background jobs started"
    );
    jobs
}

fn spawn(job: impl Future<Output = ()> + Send + 'static) -> JoinHandle<()> {
    tokio::spawn(job)
}

/// Every minute, in every process: forgets stale rate-limit buckets (this process's
/// memory) and, every ten minutes, expired idempotency keys.
async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    let mut round: u64 = 0;
    loop {
        tick.tick().await;
        state.auth_limits.prune();
        if round.is_multiple_of(10) {
            match idempotency::purge_expired(&state).await {
                Ok(n) if n > 0 => tracing::info!(purged = n, "expired idempotency keys removed"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "purging idempotency keys failed"),
            }
        }
        round += 1;
    }
}
