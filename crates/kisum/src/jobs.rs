//! Background jobs of a `kisum` process. Every process may run them at once: each change
//! locks its company, so two sweepers never record one transition twice.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::state::AppState;

/// Starts the email worker, the publish retrier (with Nextkt configured) and the
/// entitlement sweeper (which records trials ending and expired, and grace periods ended,
/// as versions, history rows and events; reads are already right without it).
pub fn start(state: &AppState) -> Vec<JoinHandle<()>> {
    let sweeper = state.clone();
    let period = Duration::from_secs(state.config.sweep_secs.max(1));
    let mailer = state.clone();
    let publisher = state.clone();
    let retry_period = Duration::from_secs(state.config.publish_retry_secs.max(1));
    let mut jobs = vec![
        tokio::spawn(async move {
            if let Err(err) = crate::auth::mail::run(mailer).await {
                tracing::error!(error = %err, "email worker cannot start");
            }
        }),
        tokio::spawn(async move {
            service::jobs::every("entitlement_sweeper", period, || {
                let state = sweeper.clone();
                async move {
                    let recorded = crate::core::subscriptions::service::sweep(&state).await?;
                    if recorded > 0 {
                        tracing::info!(recorded, "entitlement transitions recorded");
                    }
                    Ok(())
                }
            })
            .await
        }),
    ];
    if state.nextkt.is_some() {
        jobs.push(tokio::spawn(async move {
            service::jobs::every("publish_retry", retry_period, || {
                let state = publisher.clone();
                async move {
                    let published = crate::promoter::publish::retry_due(&state).await?;
                    if published > 0 {
                        tracing::info!(published, "failed publishes retried");
                    }
                    Ok(())
                }
            })
            .await
        }));
    }
    jobs
}
