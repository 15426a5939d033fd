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

use crate::platform::db::Db;
use crate::platform::ids::new_id;

mod handlers;
mod service;
mod store;

pub use handlers::*;
pub use service::{create, current};

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
        let row = store::owner_and_key(db, kid).await?;
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

#[derive(Debug, serde::Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct PublicKey {
    /// The `kid` in ticket QR payloads.
    pub id: String,
    /// Ed25519 public key, base64url without padding.
    pub public_key: String,
    #[serde(skip)]
    pub created_at: i64,
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
