//! Revoked codes: a code that no longer admits anyone. Online scans answer `revoked` at
//! once; the organization's gate version moves so every offline bundle is rebuilt with it.

mod store;

use crate::ids::{EventId, OrgId, TicketId};
use crate::platform::clock::Millis;
use crate::platform::db::Tx;

pub struct Revocation<'a> {
    /// The code's lookup hash (`sealing::lookup_hash`), as the offline bundle lists it.
    pub code_hash: &'a str,
    pub org_id: &'a OrgId,
    pub event_id: &'a EventId,
    pub ticket_id: &'a TicketId,
    /// Why, e.g. `transferred`.
    pub reason: &'a str,
}

/// Revokes a code in the caller's transaction.
#[tracing::instrument(skip_all, fields(org_id = %code.org_id, ticket_id = %code.ticket_id, reason = %code.reason))]
pub async fn revoke(tx: &mut Tx, code: Revocation<'_>, now: Millis) -> Result<(), sqlx::Error> {
    store::insert(tx, &code, now).await?;
    super::bundle::bump_version(tx, code.org_id).await
}
