//! The keys that sign access tokens: Ed25519 (JWT `alg` EdDSA), kept in the database so
//! every process signs and verifies with the same set. The newest unretired key signs;
//! rotation retires it and keeps it verifying (and published in the JWKS) until every token
//! it signed has expired.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{DecodingKey, EncodingKey};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::Serialize;
use tokio::sync::RwLock;
use utoipa::ToSchema;

use crate::platform::clock::Millis;
use crate::platform::db::Db;
use crate::platform::error::{ApiResult, Problem};
use crate::platform::ids::new_id;
use crate::platform::internal_key::InternalCaller;
use crate::platform::json::ApiJson;
use crate::state::AppState;

/// A published public key (RFC 8037 OKP).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub x: String,
    pub kid: String,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub usage: &'static str,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

#[derive(Default)]
struct Loaded {
    verifying: HashMap<String, DecodingKey>,
    published: Vec<Jwk>,
}

/// The verifying keys, cached in memory; reloaded when a token names a key this process has
/// not seen (another process rotated), at most once a second.
pub struct KeyRing {
    db: Db,
    loaded: RwLock<Loaded>,
    last_reload: AtomicI64,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    kid: String,
    private_pkcs8: String,
}

fn new_keypair() -> anyhow::Result<(String, String)> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| anyhow::anyhow!("could not generate a signing key"))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| anyhow::anyhow!("generated key does not parse"))?;
    Ok((
        STANDARD.encode(pkcs8.as_ref()),
        URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
    ))
}

impl KeyRing {
    /// Loads the keys, making the first one when there is none.
    pub async fn open(db: Db, now: Millis) -> anyhow::Result<Arc<KeyRing>> {
        let ring = Arc::new(KeyRing {
            db,
            loaded: RwLock::default(),
            last_reload: AtomicI64::new(0),
        });
        let active: i64 = sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM signing_keys WHERE retired_at IS NULL",
        )
        .fetch_one(&ring.db.pool)
        .await?;
        if active == 0 {
            ring.insert_key(now).await?;
        }
        ring.reload(now).await?;
        Ok(ring)
    }

    async fn insert_key(&self, now: Millis) -> anyhow::Result<String> {
        let (private, public) = new_keypair()?;
        let kid = new_id();
        sqlx::query(
            "INSERT INTO signing_keys (kid, private_pkcs8, public_key, created_at, retired_at, drop_after) \
             VALUES ($1, $2, $3, $4, NULL, NULL)",
        )
        .bind(&kid)
        .bind(private)
        .bind(public)
        .bind(now)
        .execute(&self.db.pool)
        .await?;
        Ok(kid)
    }

    async fn reload(&self, now: Millis) -> anyhow::Result<()> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT kid, public_key FROM signing_keys \
             WHERE drop_after IS NULL OR drop_after > $1 ORDER BY created_at DESC, kid DESC",
        )
        .bind(now)
        .fetch_all(&self.db.pool)
        .await?;
        let mut loaded = Loaded::default();
        for (kid, public) in rows {
            let raw = URL_SAFE_NO_PAD.decode(&public)?;
            loaded
                .verifying
                .insert(kid.clone(), DecodingKey::from_ed_der(&raw));
            loaded.published.push(Jwk {
                kty: "OKP",
                crv: "Ed25519",
                x: public,
                kid,
                alg: "EdDSA",
                usage: "sig",
            });
        }
        *self.loaded.write().await = loaded;
        self.last_reload.store(now, Ordering::Relaxed);
        Ok(())
    }

    /// The key that signs now (read from the database, so a rotation in any process takes
    /// effect at the next login or refresh everywhere).
    pub async fn signer(&self) -> anyhow::Result<(String, EncodingKey)> {
        let row: KeyRow = sqlx::query_as(
            "SELECT kid, private_pkcs8 FROM signing_keys WHERE retired_at IS NULL \
             ORDER BY created_at DESC, kid DESC LIMIT 1",
        )
        .fetch_optional(&self.db.pool)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no active signing key"))?;
        Ok((
            row.kid,
            EncodingKey::from_ed_der(&STANDARD.decode(row.private_pkcs8)?),
        ))
    }

    /// The verifying key named `kid`, reloading once when it is unknown here.
    pub async fn verifier(&self, kid: &str, now: Millis) -> Option<DecodingKey> {
        if let Some(key) = self.loaded.read().await.verifying.get(kid) {
            return Some(key.clone());
        }
        let last = self.last_reload.load(Ordering::Relaxed);
        if now - last >= 1000 || now < last {
            if let Err(err) = self.reload(now).await {
                tracing::warn!(error = %err, "reloading signing keys");
            }
            return self.loaded.read().await.verifying.get(kid).cloned();
        }
        None
    }

    pub async fn jwks(&self) -> Jwks {
        Jwks {
            keys: self.loaded.read().await.published.clone(),
        }
    }

    /// Makes a new signing key; the old ones stop signing and verify until `drop_after`.
    pub async fn rotate(&self, now: Millis, access_ttl_ms: Millis) -> anyhow::Result<String> {
        sqlx::query(
            "UPDATE signing_keys SET retired_at = $1, drop_after = $2 WHERE retired_at IS NULL",
        )
        .bind(now)
        .bind(now + access_ttl_ms + 60_000)
        .execute(&self.db.pool)
        .await?;
        let kid = self.insert_key(now).await?;
        self.reload(now).await?;
        Ok(kid)
    }
}

/// The public keys that verify access tokens (JWKS, RFC 7517). Cache it, and fetch it again
/// when a token names an unknown `kid`.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
    responses((status = 200, body = Jwks)))]
pub async fn jwks(State(state): State<AppState>) -> ApiJson<Jwks> {
    ApiJson(state.keys.jwks().await)
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rotated {
    /// The new signing key's id.
    pub kid: String,
}

/// Rotates the signing key: new tokens are signed by a new key at once in every process;
/// the old key keeps verifying until the tokens it signed have expired.
#[utoipa::path(post, path = "/internal/auth/keys/rotate", tag = "auth",
    responses((status = 200, body = Rotated), (status = 401, body = Problem)), security(("internal_key" = [])))]
pub async fn rotate(
    State(state): State<AppState>,
    _caller: InternalCaller,
) -> ApiResult<ApiJson<Rotated>> {
    let kid = state
        .keys
        .rotate(
            state.clock.now_ms(),
            state.config.access_token_ttl_secs * 1000,
        )
        .await?;
    Ok(ApiJson(Rotated { kid }))
}
