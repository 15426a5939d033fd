//! Revoked codes: a code that no longer admits anyone. Online scans answer `revoked` at
//! once; the organization's gate version moves so every offline bundle is rebuilt with it.

use crate::platform::clock::Millis;
use crate::platform::db::Tx;

pub struct Revocation<'a> {
    /// The code's lookup hash (`sealing::lookup_hash`), as the offline bundle lists it.
    pub code_hash: &'a str,
    pub org_id: &'a str,
    pub event_id: &'a str,
    pub ticket_id: &'a str,
    /// Why, e.g. `transferred`.
    pub reason: &'a str,
}

/// Revokes a code in the caller's transaction.
pub async fn revoke(tx: &mut Tx, code: Revocation<'_>, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO revoked_codes (code_hash, organization_id, event_id, ticket_id, reason, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(code.code_hash.to_string())
    .bind(code.org_id.to_string())
    .bind(code.event_id.to_string())
    .bind(code.ticket_id.to_string())
    .bind(code.reason.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    super::bundle::bump_version(tx, code.org_id).await
}
