//! Provider callbacks as received. Each (provider, event id) is recorded once, so a callback
//! delivered again is recognised and not applied twice; its outcome is kept for support.

use crate::platform::clock::Millis;
use crate::platform::db::Tx;

/// A callback as the provider sent it.
pub struct Received<'a> {
    pub provider: &'a str,
    pub event_id: &'a str,
    pub payment_id: Option<&'a str>,
    pub kind: &'a str,
    /// What became of it, or `pending` until it has been applied.
    pub outcome: &'a str,
}

/// Records a callback. False when it was recorded before: a redelivery.
pub async fn record(tx: &mut Tx, event: Received<'_>, now: Millis) -> Result<bool, sqlx::Error> {
    let recorded = sqlx::query(
        "INSERT INTO provider_events (provider, event_id, payment_id, kind, outcome, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (provider, event_id) DO NOTHING",
    )
    .bind(event.provider.to_string())
    .bind(event.event_id.to_string())
    .bind(event.payment_id.map(str::to_string))
    .bind(event.kind.to_string())
    .bind(event.outcome.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(recorded.rows_affected() == 1)
}

/// Notes what applying a recorded callback did.
pub async fn set_outcome(
    tx: &mut Tx,
    provider: &str,
    event_id: &str,
    outcome: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE provider_events SET outcome = $1 WHERE provider = $2 AND event_id = $3")
        .bind(outcome.to_string())
        .bind(provider.to_string())
        .bind(event_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
