//! Ticket signatures. Each event has Ed25519 keys; a ticket's QR code carries a payload
//! signed by the event's current key, with the key's id, so a scanner holding the event's
//! public keys can check it offline. Keys rotate: new tickets use the newest key, and older
//! keys keep verifying the tickets they signed.
//!
//! QR text: `NKT1.<payload>.<signature>`, both base64url without padding; the payload is
//! compact JSON `{"v":1,"kid":KEY,"eid":EVENT,"tid":TICKET,"code":CODE}` and the signature
//! is Ed25519 over the payload's bytes as encoded (the base64url text).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};
use crate::platform::ids::new_id;

pub const PREFIX: &str = "NKT1";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub v: u8,
    pub kid: String,
    pub eid: String,
    pub tid: String,
    pub code: String,
}

pub struct EventKey {
    pub id: String,
    pub signing: SigningKey,
}

impl EventKey {
    pub fn generate() -> EventKey {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        EventKey {
            id: new_id(),
            signing: SigningKey::from_bytes(&secret),
        }
    }

    pub fn sign(&self, event_id: &str, ticket_id: &str, code: &str) -> String {
        let claims = Claims {
            v: 1,
            kid: self.id.clone(),
            eid: event_id.to_string(),
            tid: ticket_id.to_string(),
            code: code.to_string(),
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signature = self.signing.sign(payload.as_bytes());
        format!(
            "{PREFIX}.{payload}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }

    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.signing.verifying_key().to_bytes())
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Invalid {
    Malformed,
    UnknownKey,
    BadSignature,
}

/// Checks a QR text against public keys (`key id → base64url key`); returns its claims.
pub fn verify(qr: &str, public_key_of: impl Fn(&str) -> Option<String>) -> Result<Claims, Invalid> {
    let mut parts = qr.split('.');
    let (Some(PREFIX), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Invalid::Malformed);
    };
    let claims: Claims = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(Invalid::Malformed)?;
    let key = public_key_of(&claims.kid).ok_or(Invalid::UnknownKey)?;
    let key: [u8; 32] = URL_SAFE_NO_PAD
        .decode(key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(Invalid::UnknownKey)?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| Invalid::UnknownKey)?;
    let signature: [u8; 64] = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(Invalid::Malformed)?;
    key.verify(
        payload.as_bytes(),
        &ed25519_dalek::Signature::from_bytes(&signature),
    )
    .map_err(|_| Invalid::BadSignature)?;
    Ok(claims)
}

/// The key id a QR text names, before any check.
pub fn key_id(qr: &str) -> Option<String> {
    let payload = qr.split('.').nth(1)?;
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    Some(claims.kid)
}

/// Public keys by id, kept in memory: a key never changes once made (rotation adds new
/// ones), so a scan only reads the database for a key id it has not seen.
#[derive(Default)]
pub struct KeyCache {
    keys: std::sync::RwLock<std::collections::HashMap<String, (String, String)>>,
}

impl KeyCache {
    /// The public key `kid` of the organization's events, if it has one.
    pub async fn public_key(
        &self,
        db: &Db,
        org_id: &str,
        kid: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        if let Some((org, key)) = self.keys.read().unwrap_or_else(|p| p.into_inner()).get(kid) {
            return Ok((org == org_id).then(|| key.clone()));
        }
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT organization_id, public_key FROM event_signing_keys WHERE id = $1",
        )
        .bind(kid.to_string())
        .fetch_optional(&db.pool)
        .await?;
        let Some((org, key)) = row else {
            return Ok(None);
        };
        let mine = (org == org_id).then(|| key.clone());
        self.keys
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(kid.to_string(), (org, key));
        Ok(mine)
    }
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: String,
    secret_key: String,
}

/// The event's newest key, made on first use.
pub async fn current(
    db: &Db,
    tx: &mut Tx,
    org_id: &str,
    event_id: &str,
    now: Millis,
) -> Result<EventKey, sqlx::Error> {
    let row: Option<KeyRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, secret_key FROM event_signing_keys WHERE event_id = $1 AND retired_at IS NULL \
         ORDER BY created_at DESC, id DESC LIMIT 1{}",
        db.for_update()
    )))
    .bind(event_id.to_string())
    .fetch_optional(&mut **tx)
    .await?;
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
    sqlx::query(
        "INSERT INTO event_signing_keys (id, organization_id, event_id, public_key, secret_key, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(key.id.clone())
    .bind(org_id.to_string())
    .bind(event_id.to_string())
    .bind(key.public_key())
    .bind(URL_SAFE_NO_PAD.encode(key.signing.to_bytes()))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(key)
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct PublicKey {
    /// The `kid` in ticket QR payloads.
    pub id: String,
    /// Ed25519 public key, base64url without padding.
    pub public_key: String,
    #[serde(skip)]
    pub created_at: i64,
}

async fn public_keys(db: &Db, event_id: &str) -> Result<Vec<PublicKey>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, public_key, created_at FROM event_signing_keys WHERE event_id = $1 AND retired_at IS NULL \
         ORDER BY created_at, id",
    )
    .bind(event_id.to_string())
    .fetch_all(&db.pool)
    .await
}

/// The event's ticket verification keys, oldest first (the newest signs new tickets).
#[utoipa::path(
    get, path = "/admin/events/{event_id}/signing-keys", tag = "events",
    params(("event_id" = String, Path), crate::platform::pagination::PageParams),
    responses((status = 200, body = crate::platform::pagination::Page<PublicKey>),
        (status = 400, body = crate::platform::error::Problem),
        (status = 404, body = crate::platform::error::Problem)),
    security(("bearer" = []))
)]
pub async fn list(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    access: crate::tenancy::access::AdminAccess,
    axum::extract::Path(event_id): axum::extract::Path<String>,
    crate::platform::query::ApiQuery(page): crate::platform::query::ApiQuery<
        crate::platform::pagination::PageParams,
    >,
) -> crate::platform::error::ApiResult<
    crate::platform::json::ApiJson<crate::platform::pagination::Page<PublicKey>>,
> {
    access.require(crate::tenancy::roles::Permission::ReadOrganization)?;
    let page = page.parse()?;
    let event = crate::catalog::events::find(&state.db, &access.org_id, &event_id).await?;
    let keys: Vec<PublicKey> = sqlx::query_as(
        "SELECT id, public_key, created_at FROM event_signing_keys WHERE event_id = $1 \
         AND retired_at IS NULL AND ($2 = '' OR id > $2) ORDER BY id LIMIT $3",
    )
    .bind(event.id)
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&state.db.pool)
    .await?;
    Ok(crate::platform::json::ApiJson(page.finish(keys, |k| &k.id)))
}

/// Rotate: a new key signs tickets issued from now on; older keys keep verifying theirs.
#[utoipa::path(
    post, path = "/admin/events/{event_id}/signing-keys", tag = "events",
    params(("event_id" = String, Path)),
    responses((status = 201, body = Vec<PublicKey>), (status = 404, body = crate::platform::error::Problem)),
    security(("bearer" = []))
)]
pub async fn rotate(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    access: crate::tenancy::access::AdminAccess,
    axum::extract::Path(event_id): axum::extract::Path<String>,
) -> crate::platform::error::ApiResult<(
    axum::http::StatusCode,
    crate::platform::json::ApiJson<Vec<PublicKey>>,
)> {
    access.require(crate::tenancy::roles::Permission::ManageCatalog)?;
    let event = crate::catalog::events::find(&state.db, &access.org_id, &event_id).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let key = create(&mut tx, &access.org_id, &event.id, now).await?;
    crate::tenancy::audit::record(
        &mut tx,
        crate::tenancy::audit::Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "event.signing_key_rotated",
            target_kind: "event",
            target_id: &event.id,
            before: None,
            after: Some(serde_json::json!({ "key_id": key.id, "public_key": key.public_key() })),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((
        axum::http::StatusCode::CREATED,
        crate::platform::json::ApiJson(public_keys(&state.db, &event.id).await?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_payloads_verify_only_with_their_key() {
        let key = EventKey::generate();
        let other = EventKey::generate();
        let qr = key.sign("event-1", "ticket-1", "CODE");
        let lookup = |kid: &str| (kid == key.id).then(|| key.public_key());
        let claims = verify(&qr, lookup).unwrap();
        assert_eq!(
            (
                claims.eid.as_str(),
                claims.tid.as_str(),
                claims.code.as_str()
            ),
            ("event-1", "ticket-1", "CODE")
        );
        // Another key's signature, a changed payload, an unknown key id, garbage.
        let forged = other
            .sign("event-1", "ticket-1", "CODE")
            .replace(&other.id, &key.id);
        assert!(verify(&forged, lookup).is_err());
        let parts: Vec<&str> = qr.split('.').collect();
        let tampered_claims = Claims {
            v: 1,
            kid: key.id.clone(),
            eid: "event-1".into(),
            tid: "ticket-2".into(),
            code: "CODE".into(),
        };
        let tampered_payload =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&tampered_claims).unwrap());
        assert_eq!(
            verify(&format!("NKT1.{tampered_payload}.{}", parts[2]), lookup),
            Err(Invalid::BadSignature)
        );
        assert_eq!(
            verify(&other.sign("e", "t", "c"), lookup),
            Err(Invalid::UnknownKey)
        );
        assert_eq!(verify("hello", lookup), Err(Invalid::Malformed));
    }
}
