//! The rules of keys: which presented key opens what, creating (secret made here, shown
//! once) and revoking, each with its audit entry in the caller's transaction.

use serde_json::json;
use tracing::field::Empty;

use super::store::{self, KeyRow};
use super::{CreatedApiKey, KeyKind};
use crate::ids::OrgId;
use crate::platform::clock::Millis;
use crate::platform::db::Tx;
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::ids::new_id;
use crate::platform::secrets::{new_token, token_hash, visible_prefix};
use crate::state::AppState;
use crate::tenancy::access::{Actor, Mode, invalid_credentials, suspended};
use crate::tenancy::audit::{self, Change};
use crate::tenancy::organizations::OrganizationRow;
use crate::tenancy::roles::Role;

/// Last-used times are written at most this often per key, so that using a key is not a
/// write on every request.
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

/// Resolves a presented key of `kind` with its organization, in one query: 401 when the
/// key is unknown, revoked or expired, 403 when its organization is suspended.
#[tracing::instrument(skip_all, fields(kind = %kind, org_id = Empty))]
pub async fn authenticate(
    state: &AppState,
    secret: &str,
    kind: &str,
    now: Millis,
) -> ApiResult<(KeyRow, OrganizationRow)> {
    let Some((key, org)) = store::find_with_org(&state.db, &token_hash(secret)).await? else {
        return Err(invalid_credentials());
    };
    tracing::Span::current().record("org_id", org.id.as_str());
    if key.kind != kind || key.revoked_at.is_some() {
        return Err(invalid_credentials());
    }
    if key.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::unauthorized(
            "credential_expired",
            "the key has expired",
        ));
    }
    if org.suspended_at.is_some() {
        return Err(suspended());
    }
    if key
        .last_used_at
        .is_none_or(|at| at + LAST_USED_GRANULARITY_MS <= now)
    {
        store::touch_last_used(&state.db, &key.id, now).await?;
    }
    Ok((key, org))
}

pub struct NewKey<'a> {
    pub org_id: &'a OrgId,
    pub kind: KeyKind,
    pub mode: Mode,
    pub name: &'a str,
    pub role: Option<Role>,
    pub expires_at: Option<Millis>,
    pub created_by: &'a Actor,
}

/// Creates a key inside the caller's transaction and records it in the audit log.
pub async fn create_in(
    tx: &mut Tx,
    new: NewKey<'_>,
    now: Millis,
) -> Result<CreatedApiKey, sqlx::Error> {
    let token_prefix = new.kind.token_prefix(new.mode);
    let secret = new_token(token_prefix);
    let row = KeyRow {
        id: new_id(),
        organization_id: new.org_id.to_string(),
        kind: new.kind.as_str().to_string(),
        mode: new.mode.as_str().to_string(),
        name: new.name.to_string(),
        prefix: visible_prefix(&secret, token_prefix),
        role: new.role.map(|r| r.as_str().to_string()),
        created_at: now,
        expires_at: new.expires_at,
        last_used_at: None,
        revoked_at: None,
    };
    store::insert(
        tx,
        &row,
        token_hash(&secret),
        new.created_by.kind.as_str(),
        &new.created_by.id,
    )
    .await?;
    let key = row.to_api(now);
    audit::record(
        tx,
        Change {
            org_id: Some(new.org_id),
            actor: new.created_by,
            action: "api_key.created",
            target_kind: "api_key",
            target_id: &row.id,
            before: None,
            after: Some(serde_json::to_value(&key).unwrap_or_default()),
        },
        now,
    )
    .await?;
    Ok(CreatedApiKey { key, secret })
}

/// Revokes a key of the organization; already-revoked keys stay revoked. 404 for a key of
/// another organization or of another kind.
pub async fn revoke_in(
    tx: &mut Tx,
    org_id: &OrgId,
    key_id: &str,
    kind: KeyKind,
    actor: &Actor,
    now: Millis,
) -> ApiResult<()> {
    if !store::revoke(tx, org_id, key_id, kind.as_str(), now).await? {
        return Err(ApiError::not_found(kind.noun()));
    }
    audit::record(
        tx,
        Change {
            org_id: Some(org_id),
            actor,
            action: "api_key.revoked",
            target_kind: "api_key",
            target_id: key_id,
            before: None,
            after: Some(json!({ "revoked": true })),
        },
        now,
    )
    .await?;
    Ok(())
}

/// Creates a key (name and role already checked); it may not expire in the past.
#[tracing::instrument(skip_all, fields(org_id = %new.org_id, kind = new.kind.as_str()))]
pub async fn create(state: &AppState, new: NewKey<'_>) -> ApiResult<CreatedApiKey> {
    let now = state.clock.now_ms();
    if new.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::invalid("expires_at", "must be in the future"));
    }
    let mut tx = state.db.begin().await?;
    let created = create_in(&mut tx, new, now).await?;
    tx.commit().await?;
    Ok(created)
}

/// Revokes a key; it stops working at once in this process (the storefront credential
/// cache is cleared), in others within the cache's lifetime.
#[tracing::instrument(skip_all, fields(org_id = %org_id, key_id = %key_id, kind = kind.as_str()))]
pub async fn revoke(
    state: &AppState,
    org_id: &OrgId,
    key_id: &str,
    kind: KeyKind,
    actor: &Actor,
) -> ApiResult<()> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    revoke_in(&mut tx, org_id, key_id, kind, actor, now).await?;
    tx.commit().await?;
    state.credential_cache.clear();
    Ok(())
}
