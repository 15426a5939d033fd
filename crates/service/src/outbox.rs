//! Email through an outbox: a message is written to the `outbox` table in the transaction
//! that causes it (so it is sent exactly when that change commits), and a worker delivers
//! it later over SMTP, or into `.eml` files when no SMTP server is configured. Several
//! processes can run the worker: each leases a batch of rows (a crashed sender's lease runs
//! out and another process retries). A failed send is retried with exponential backoff and
//! never touches the change that queued it.
//!
//! The table belongs to the service that uses this module (it creates it in its own
//! migrations, with the columns below); the service turns a queued row into a message —
//! its templates and attachments are its own.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::clock::{Millis, SharedClock};
use crate::db::{Db, Tx};
use crate::ids::new_id;
use crate::jobs::Lease;

/// Emails claimed at once.
pub const BATCH: i64 = 20;
/// How long a claimed email is the claimer's.
const LEASE_MS: i64 = 60_000;
/// Tries before an email is given up on (about four days with the backoff).
pub const MAX_ATTEMPTS: i64 = 12;

pub struct Email<'a> {
    /// The tenant the email is sent for (`organization_id`), when there is one.
    pub organization_id: Option<&'a str>,
    /// Template name, e.g. `buyer_password_reset`.
    pub template: &'a str,
    pub locale: &'a str,
    pub to: &'a str,
    /// The template's variables.
    pub payload: serde_json::Value,
}

/// Queues an email in the caller's transaction. Returns its id.
pub async fn enqueue(tx: &mut Tx, email: Email<'_>, now: Millis) -> Result<String, sqlx::Error> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO outbox (id, organization_id, template, locale, to_address, payload_json, \
         status, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7)",
    )
    .bind(id.clone())
    .bind(email.organization_id.map(str::to_string))
    .bind(email.template.to_string())
    .bind(email.locale.to_string())
    .bind(email.to.to_string())
    .bind(email.payload.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// An email claimed for sending.
#[derive(Clone, Debug, sqlx::FromRow)]
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
async fn claim_due(db: &Db, lease_until: Millis, now: Millis) -> Result<Vec<Queued>, sqlx::Error> {
    sqlx::query_as(CLAIM.sql(db.dialect))
        .bind(lease_until)
        .bind(now)
        .fetch_all(&db.pool)
        .await
}

async fn mark_sent(db: &Db, id: &str, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE outbox SET status = 'sent', sent_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id.to_string())
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Records a failed send: tried again at `next_attempt_at`, or given up on.
async fn mark_not_sent(
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

/// Waits before the next try: 30 s, 1 min, 2 min, ... up to an hour.
pub fn backoff_ms(attempts: i64) -> Millis {
    (30_000i64 << attempts.clamp(0, 7)).min(3_600_000)
}

/// Where email goes.
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// One `<id>.eml` file per email, for development and tests.
    Directory(PathBuf),
}

impl Transport {
    /// From configuration: an `smtp://` or `smtps://` URL, or else the mail directory.
    pub fn from_config(smtp_url: Option<&str>, mail_dir: &str) -> anyhow::Result<Transport> {
        match smtp_url {
            Some(url) => Ok(Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("--smtp-url: {e}"))?
                    .timeout(Some(Duration::from_secs(20)))
                    .build(),
            )),
            None => Ok(Transport::Directory(PathBuf::from(mail_dir))),
        }
    }

    async fn deliver(&self, id: &str, message: Message) -> anyhow::Result<()> {
        match self {
            Transport::Smtp(smtp) => {
                smtp.send(message).await?;
            }
            Transport::Directory(dir) => {
                tokio::fs::create_dir_all(dir).await?;
                tokio::fs::write(dir.join(format!("{id}.eml")), message.formatted()).await?;
            }
        }
        Ok(())
    }
}

/// The delivery worker's settings: the outbox, time, where mail goes.
pub struct Worker {
    pub db: Db,
    pub clock: SharedClock,
    pub transport: Transport,
}

impl Worker {
    /// Claims and sends one batch, each email made into a message by `compose`. Returns how
    /// many were sent.
    #[tracing::instrument(skip_all)]
    pub async fn drain_once<F, Fut>(&self, compose: &F) -> anyhow::Result<usize>
    where
        F: Fn(Queued) -> Fut,
        Fut: Future<Output = anyhow::Result<Message>>,
    {
        let now = self.clock.now_ms();
        let claimed = claim_due(&self.db, now + LEASE_MS, now).await?;
        let mut sent = 0;
        for mail in claimed {
            let id = mail.id.clone();
            let attempts = mail.attempts;
            let result = match compose(mail).await {
                Ok(message) => self.transport.deliver(&id, message).await,
                Err(err) => Err(err),
            };
            let now = self.clock.now_ms();
            let (sent_total, failed_total) = email_metric_names();
            match result {
                Ok(()) => {
                    mark_sent(&self.db, &id, now).await?;
                    metrics::counter!(sent_total).increment(1);
                    sent += 1;
                }
                Err(err) => {
                    let give_up = attempts >= MAX_ATTEMPTS;
                    tracing::warn!(email = %id, attempts, error = %err, give_up, "email not sent");
                    mark_not_sent(&self.db, &id, give_up, now + backoff_ms(attempts)).await?;
                    metrics::counter!(failed_total).increment(1);
                }
            }
        }
        Ok(sent)
    }

    /// Delivers every second until the task is dropped; a full batch is followed at once by
    /// the next.
    pub async fn run<F, Fut>(self, compose: F)
    where
        F: Fn(Queued) -> Fut,
        Fut: Future<Output = anyhow::Result<Message>>,
    {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            loop {
                match self.drain_once(&compose).await {
                    Ok(n) if n as i64 == BATCH => continue,
                    Ok(_) => break,
                    Err(err) => {
                        tracing::warn!(error = %err, "email worker");
                        break;
                    }
                }
            }
        }
    }
}

/// `<service>_emails_sent_total` and `<service>_emails_failed_total`.
fn email_metric_names() -> (&'static str, &'static str) {
    static NAMES: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    let (sent, failed) = NAMES.get_or_init(|| {
        let name = crate::service_name();
        (
            format!("{name}_emails_sent_total"),
            format!("{name}_emails_failed_total"),
        )
    });
    (sent, failed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(super::backoff_ms(1), 60_000);
        assert_eq!(super::backoff_ms(2), 120_000);
        assert_eq!(super::backoff_ms(12), 3_600_000);
    }
}
