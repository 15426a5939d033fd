//! Sessions: login answers a short-lived JWT access token and a refresh token. A refresh
//! rotates the refresh token; presenting a used one again revokes its whole family (it was
//! stolen or replayed). Logout and a password change bump the user's `tokenVersion`, which
//! every access token carries, so tokens issued before stop working at the next request.

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use service::client_ip::ClientIp;
use service::secrets::{dummy_verify, hash_password, new_token, token_hash, verify_password};
use utoipa::ToSchema;

use super::users::{self, UserRow};
use crate::ids::UserId;
use crate::platform::clock::Millis;
use crate::platform::db::Tx;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::validate;
use crate::state::AppState;

pub const REFRESH_PREFIX: &str = "ksm_rt_";
pub const ISSUER: &str = "kisum";

/// What an access token says.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: String,
    /// The user's token version when it was issued.
    pub tv: i64,
    /// The session (refresh family) it belongs to.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenPair {
    pub user_id: String,
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds the access token lives.
    pub expires_in: i64,
}

pub fn unauthorized() -> ApiError {
    ApiError::unauthorized(
        "unauthorized",
        "send a valid access token: Authorization: Bearer <token>",
    )
}

fn session_revoked() -> ApiError {
    ApiError::unauthorized("session_revoked", "this session has ended; log in again")
}

/// Issues an access token and a refresh token of `family` (a new family when `None`).
pub async fn issue(
    state: &AppState,
    tx: &mut Tx,
    user: &UserId,
    token_version: i64,
    family: Option<&str>,
    now: Millis,
) -> ApiResult<TokenPair> {
    let family = family.map(str::to_string).unwrap_or_else(new_id);
    let refresh = new_token(REFRESH_PREFIX);
    sqlx::query(
        "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at, used_at, \
         revoked_at, created_at) VALUES ($1, $2, $3, $4, $5, NULL, NULL, $6)",
    )
    .bind(new_id())
    .bind(&family)
    .bind(user.as_str())
    .bind(token_hash(&refresh))
    .bind(now + state.config.refresh_token_ttl_secs * 1000)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let ttl = state.config.access_token_ttl_secs;
    let claims = Claims {
        sub: user.to_string(),
        tv: token_version,
        sid: family,
        iat: now / 1000,
        exp: now / 1000 + ttl,
        iss: ISSUER.to_string(),
    };
    let (kid, key) = state.keys.signer().await?;
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid);
    let access = jsonwebtoken::encode(&header, &claims, &key)
        .map_err(|e| anyhow::anyhow!("signing: {e}"))?;
    Ok(TokenPair {
        user_id: user.to_string(),
        access_token: access,
        refresh_token: refresh,
        expires_in: ttl,
    })
}

/// Checks an access token's signature, issuer and expiry (by the server's clock), without
/// the database. Whether it is still current (its token version) is checked by the caller.
pub async fn verify(state: &AppState, token: &str, now: Millis) -> ApiResult<Claims> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| unauthorized())?;
    if header.alg != Algorithm::EdDSA {
        return Err(unauthorized());
    }
    let kid = header.kid.ok_or_else(unauthorized)?;
    let key = state
        .keys
        .verifier(&kid, now)
        .await
        .ok_or_else(unauthorized)?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    // Expiry is checked against the server's clock below, so tests can move time.
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    validation.set_issuer(&[ISSUER]);
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|_| unauthorized())?
        .claims;
    if claims.exp * 1000 <= now {
        return Err(ApiError::unauthorized(
            "token_expired",
            "the access token has expired; refresh it",
        ));
    }
    Ok(claims)
}

pub fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// A caller with a valid, current access token (no company involved).
pub struct Authenticated {
    pub user: UserRow,
    pub claims: Claims,
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let token = bearer(parts).ok_or_else(unauthorized)?;
        let now = state.clock.now_ms();
        let claims = verify(state, token, now).await?;
        let mut conn = state.db.pool.acquire().await?;
        let user = users::by_id(&mut conn, &UserId::from(claims.sub.as_str()))
            .await?
            .ok_or_else(unauthorized)?;
        if user.token_version != claims.tv {
            return Err(session_revoked());
        }
        Ok(Authenticated { user, claims })
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Login {
    pub email: String,
    pub password: String,
}

/// Logs in with email and password.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = Login,
    responses((status = 200, body = TokenPair), (status = 401, description = "`invalid_credentials`", body = Problem), (status = 429, body = Problem)))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Login>,
) -> ApiResult<ApiJson<TokenPair>> {
    let email = body.email.trim().to_lowercase();
    state
        .auth_limits
        .check(ip, Some(&format!("login:{email}")))?;
    let mut conn = state.db.pool.acquire().await?;
    let user = users::by_email(&mut conn, &email).await?;
    drop(conn);
    let Some(user) = user else {
        // Same time as a wrong password, so a probe cannot tell which emails exist.
        dummy_verify(body.password).await;
        return Err(invalid_credentials());
    };
    if !verify_password(body.password, user.password_hash.clone()).await {
        return Err(invalid_credentials());
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let pair = issue(&state, &mut tx, &user.id, user.token_version, None, now).await?;
    tx.commit().await?;
    Ok(ApiJson(pair))
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "the email or password is wrong")
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Refresh {
    pub refresh_token: String,
}

#[derive(sqlx::FromRow)]
struct RefreshRow {
    id: String,
    family_id: String,
    user_id: String,
    expires_at: i64,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
}

/// Trades a refresh token for a new pair. Each refresh token works once: presented again,
/// it revokes every token of its session (`refresh_reused`).
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = Refresh,
    responses((status = 200, body = TokenPair), (status = 401, description = "`invalid_refresh_token`, `refresh_reused`, `session_revoked`", body = Problem)))]
pub async fn refresh(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Refresh>,
) -> ApiResult<ApiJson<TokenPair>> {
    state.auth_limits.check(ip, None)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let row: Option<RefreshRow> = sqlx::query_as(state.db.sql(format!(
        "SELECT id, family_id, user_id, expires_at, used_at, revoked_at FROM refresh_tokens \
         WHERE token_hash = $1{}",
        state.db.for_update()
    )))
    .bind(token_hash(body.refresh_token.trim()))
    .fetch_optional(&mut *tx)
    .await?;
    let row = row.ok_or_else(|| {
        ApiError::unauthorized("invalid_refresh_token", "this refresh token is not known")
    })?;
    if row.revoked_at.is_some() {
        return Err(session_revoked());
    }
    if row.used_at.is_some() {
        // A replay: whoever holds the family, the session ends for all of them.
        revoke_family(&mut tx, &row.family_id, now).await?;
        tx.commit().await?;
        return Err(ApiError::unauthorized(
            "refresh_reused",
            "this refresh token was already used; the session is revoked, log in again",
        ));
    }
    if row.expires_at <= now {
        return Err(ApiError::unauthorized(
            "invalid_refresh_token",
            "this refresh token has expired",
        ));
    }
    sqlx::query("UPDATE refresh_tokens SET used_at = $2 WHERE id = $1")
        .bind(&row.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let user_id = UserId::from(row.user_id);
    let user = users::by_id(&mut tx, &user_id)
        .await?
        .ok_or_else(unauthorized)?;
    let pair = issue(
        &state,
        &mut tx,
        &user_id,
        user.token_version,
        Some(&row.family_id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ApiJson(pair))
}

async fn revoke_family(tx: &mut Tx, family: &str, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn revoke_all(tx: &mut Tx, user: &UserId, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Ends this session (its refresh tokens) and revokes every access token issued so far.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses((status = 204), (status = 401, body = Problem)), security(("bearer" = [])))]
pub async fn logout(State(state): State<AppState>, caller: Authenticated) -> ApiResult<StatusCode> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    revoke_family(&mut tx, &caller.claims.sid, now).await?;
    users::bump_token_version(&mut tx, &caller.user.id, now).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

/// Changes the password: every session and access token of the user ends; log in again.
#[utoipa::path(post, path = "/auth/password", tag = "auth", request_body = ChangePassword,
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem)), security(("bearer" = [])))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiJson(body): ApiJson<ChangePassword>,
) -> ApiResult<StatusCode> {
    validate::password("newPassword", &body.new_password)?;
    if !verify_password(body.current_password, caller.user.password_hash.clone()).await {
        return Err(invalid_credentials());
    }
    let hash = hash_password(body.new_password).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    users::set_password(&mut tx, &caller.user.id, &hash, now).await?;
    users::bump_token_version(&mut tx, &caller.user.id, now).await?;
    revoke_all(&mut tx, &caller.user.id, now).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
