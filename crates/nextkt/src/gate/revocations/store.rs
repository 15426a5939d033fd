//! The SQL of `revoked_codes`.

use super::Revocation;
use crate::platform::clock::Millis;
use crate::platform::db::Tx;

pub async fn insert(tx: &mut Tx, code: &Revocation<'_>, now: Millis) -> Result<(), sqlx::Error> {
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
    Ok(())
}
