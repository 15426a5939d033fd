//! Event keys: the current one (made on first use) and rotation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;

use super::store::{self, NewKey};
use super::{EventKey, PublicKey};
use crate::ids::OrgId;
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};
use crate::platform::error::ApiResult;
use crate::state::AppState;
use crate::tenancy::access::Actor;
use crate::tenancy::audit::{self, Change};

/// The event's newest key, made on first use.
pub async fn current(
    db: &Db,
    tx: &mut Tx,
    org_id: &str,
    event_id: &str,
    now: Millis,
) -> Result<EventKey, sqlx::Error> {
    let row = store::newest_for_update(db, tx, event_id).await?;
    if let Some(row) = row
        && let Some(secret) = URL_SAFE_NO_PAD
            .decode(&row.secret_key)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
    {
        return Ok(EventKey {
            id: row.id,
            signing: SigningKey::from_bytes(&secret),
        });
    }
    create(tx, org_id, event_id, now).await
}

/// Makes a new key for the event (rotation); older keys keep verifying their tickets.
pub async fn create(
    tx: &mut Tx,
    org_id: &str,
    event_id: &str,
    now: Millis,
) -> Result<EventKey, sqlx::Error> {
    let key = EventKey::generate();
    store::insert(
        tx,
        NewKey {
            id: &key.id,
            org_id,
            event_id,
            public_key: key.public_key(),
            secret_key: URL_SAFE_NO_PAD.encode(key.signing.to_bytes()),
        },
        now,
    )
    .await?;
    Ok(key)
}

/// Rotates the event's key, with the audit entry; the event's keys afterwards.
#[tracing::instrument(skip_all, fields(org_id = %org_id, event_id = %event_id))]
pub async fn rotate(
    state: &AppState,
    org_id: &OrgId,
    actor: &Actor,
    event_id: &str,
) -> ApiResult<Vec<PublicKey>> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let key = create(&mut tx, org_id, event_id, now).await?;
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor,
            action: "event.signing_key_rotated",
            target_kind: "event",
            target_id: event_id,
            before: None,
            after: Some(serde_json::json!({ "key_id": key.id, "public_key": key.public_key() })),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(store::public_keys(&state.db, event_id).await?)
}
