//! Buyer accounts under `/consumer/auth/*`: register, verify email, login, refresh, logout,
//! password reset by emailed one-time token, and `GET /consumer/me`. Every account belongs
//! to one organization's storefront; the same email may hold accounts at several.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::access::{BuyerAccess, StorefrontAccess};
use crate::notify::outbox::{self, Email};
use crate::platform::client_ip::ClientIp;
use crate::platform::clock::{opt_rfc3339, rfc3339};
use crate::platform::db::Tx;
use crate::platform::error::{ApiError, ApiResult, Problem, is_unique_violation};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::one_time::{self, Purpose};
use crate::platform::secrets::{dummy_verify, hash_password, verify_password};
use crate::platform::sessions::{self, Subject, TokenPair};
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::organizations::OrganizationRow;

pub const RESET_TTL_SECS: i64 = 3600;
pub const VERIFY_TTL_SECS: i64 = 7 * 24 * 3600;

#[derive(Debug, Serialize, ToSchema)]
pub struct Buyer {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    pub email_verified_at: Option<String>,
    pub created_at: String,
}

#[derive(sqlx::FromRow)]
struct BuyerRow {
    id: String,
    organization_id: String,
    email: String,
    name: String,
    password_hash: String,
    email_verified_at: Option<i64>,
    created_at: i64,
}

impl From<BuyerRow> for Buyer {
    fn from(row: BuyerRow) -> Self {
        Buyer {
            id: row.id,
            organization_id: row.organization_id,
            email: row.email,
            name: row.name,
            email_verified: row.email_verified_at.is_some(),
            email_verified_at: opt_rfc3339(row.email_verified_at),
            created_at: rfc3339(row.created_at),
        }
    }
}

const BUYER_COLUMNS: &str =
    "id, organization_id, email, name, password_hash, email_verified_at, created_at";

async fn find_by_email(
    state: &AppState,
    org_id: &str,
    email: &str,
) -> Result<Option<BuyerRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {BUYER_COLUMNS} FROM buyers WHERE organization_id = $1 AND email = $2"
    )))
    .bind(org_id.to_string())
    .bind(email.to_string())
    .fetch_optional(&state.db.pool)
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    /// 10 to 256 characters.
    pub password: String,
    pub name: String,
    /// Language of the emails this buyer gets (`en` or `id`); the organization's by default.
    pub locale: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BuyerSession {
    pub buyer: Buyer,
    pub tokens: TokenPair,
}

async fn send_verification(
    tx: &mut Tx,
    org: &OrganizationRow,
    buyer_id: &str,
    email: &str,
    locale: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let token = one_time::create(
        tx,
        Purpose::BuyerEmailVerification,
        buyer_id,
        Some(&org.id),
        VERIFY_TTL_SECS,
        now,
    )
    .await?;
    outbox::enqueue(
        tx,
        Email {
            organization_id: Some(&org.id),
            template: "buyer_verify_email",
            locale,
            to: email,
            payload: json!({ "organization_name": org.name, "token": token }),
        },
        now,
    )
    .await?;
    Ok(())
}

/// Create a buyer account at this storefront and log in.
#[utoipa::path(
    post, path = "/consumer/auth/register", tag = "buyer auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, body = BuyerSession),
        (status = 400, body = Problem),
        (status = 409, description = "The email has an account here (`email_taken`)", body = Problem),
        (status = 429, body = Problem),
    ),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn register(
    State(state): State<AppState>,
    storefront: StorefrontAccess,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, ApiJson<BuyerSession>)> {
    state.auth_limits.check(ip, None)?;
    let org = storefront.org;
    let email = validate::email("email", &body.email)?;
    validate::password("password", &body.password)?;
    let name = validate::text("name", &body.name, 200)?;
    let locale = match &body.locale {
        Some(locale) => validate::locale("locale", locale)?,
        None => org.locale.clone(),
    };
    let hash = hash_password(body.password).await?;
    let now = state.clock.now_ms();
    let row = BuyerRow {
        id: new_id(),
        organization_id: org.id.clone(),
        email,
        name,
        password_hash: hash,
        email_verified_at: None,
        created_at: now,
    };
    let mut tx = state.db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO buyers (id, organization_id, email, name, password_hash, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(row.id.clone())
    .bind(row.organization_id.clone())
    .bind(row.email.clone())
    .bind(row.name.clone())
    .bind(row.password_hash.clone())
    .bind(now)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(err) if is_unique_violation(&err) => {
            return Err(ApiError::conflict(
                "email_taken",
                "an account with this email exists here; log in or reset the password",
            ));
        }
        other => other?,
    };
    send_verification(&mut tx, &org, &row.id, &row.email, &locale, now).await?;
    let tokens = sessions::start(
        &mut tx,
        Subject::Buyer,
        &row.id,
        Some(&org.id),
        now,
        state.lifetimes(),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(BuyerSession {
            buyer: row.into(),
            tokens,
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuyerLogin {
    pub email: String,
    pub password: String,
}

/// Log in as a buyer of this storefront.
#[utoipa::path(
    post, path = "/consumer/auth/login", tag = "buyer auth",
    request_body = BuyerLogin,
    responses(
        (status = 200, body = BuyerSession),
        (status = 401, description = "Wrong email or password", body = Problem),
        (status = 429, body = Problem),
    ),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn login(
    State(state): State<AppState>,
    storefront: StorefrontAccess,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<BuyerLogin>,
) -> ApiResult<ApiJson<BuyerSession>> {
    let org = storefront.org;
    let email = body.email.trim().to_lowercase();
    state
        .auth_limits
        .check(ip, Some(&format!("buyer:{}:{email}", org.id)))?;
    let Some(row) = find_by_email(&state, &org.id, &email).await? else {
        dummy_verify(body.password).await;
        return Err(crate::tenancy::operators::wrong_login());
    };
    if !verify_password(body.password, row.password_hash.clone()).await {
        return Err(crate::tenancy::operators::wrong_login());
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let tokens = sessions::start(
        &mut tx,
        Subject::Buyer,
        &row.id,
        Some(&org.id),
        now,
        state.lifetimes(),
    )
    .await?;
    tx.commit().await?;
    Ok(ApiJson(BuyerSession {
        buyer: row.into(),
        tokens,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuyerRefresh {
    pub refresh_token: String,
}

/// Exchange a buyer refresh token for a new pair; the answer has the same shape as login's.
#[utoipa::path(
    post, path = "/consumer/auth/refresh", tag = "buyer auth",
    request_body = BuyerRefresh,
    responses((status = 200, body = BuyerSession), (status = 401, body = Problem)),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn refresh(
    State(state): State<AppState>,
    storefront: StorefrontAccess,
    ApiJson(body): ApiJson<BuyerRefresh>,
) -> ApiResult<ApiJson<BuyerSession>> {
    // Check the token's organization before rotating, so another storefront's token is
    // refused without being used up.
    let now = state.clock.now_ms();
    let owner: Option<Option<String>> = sqlx::query_scalar(
        "SELECT organization_id FROM sessions WHERE refresh_hash = $1 AND subject_kind = 'buyer'",
    )
    .bind(crate::platform::secrets::token_hash(&body.refresh_token))
    .fetch_optional(&state.db.pool)
    .await?;
    if owner.flatten().as_deref() != Some(storefront.org.id.as_str()) {
        return Err(crate::tenancy::access::invalid_credentials());
    }
    let (session, tokens) = sessions::refresh(
        &state.db,
        Subject::Buyer,
        &body.refresh_token,
        now,
        state.lifetimes(),
    )
    .await?;
    let row: BuyerRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {BUYER_COLUMNS} FROM buyers WHERE id = $1"
    )))
    .bind(session.subject_id)
    .fetch_one(&state.db.pool)
    .await?;
    Ok(ApiJson(BuyerSession {
        buyer: row.into(),
        tokens,
    }))
}

/// Log the buyer out: this login's tokens stop working.
#[utoipa::path(
    post, path = "/consumer/auth/logout", tag = "buyer auth",
    responses((status = 204, description = "Logged out"), (status = 401, body = Problem)),
    security(("internal_key" = [], "tenant" = [], "buyer" = []), ("storefront_key" = [], "buyer" = []))
)]
pub async fn logout(State(state): State<AppState>, buyer: BuyerAccess) -> ApiResult<StatusCode> {
    sessions::revoke_family(&state.db, &buyer.family_id, state.clock.now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The logged-in buyer.
#[utoipa::path(
    get, path = "/consumer/me", tag = "buyer auth",
    responses((status = 200, body = Buyer), (status = 401, body = Problem)),
    security(("internal_key" = [], "tenant" = [], "buyer" = []), ("storefront_key" = [], "buyer" = []))
)]
pub async fn me(State(state): State<AppState>, buyer: BuyerAccess) -> ApiResult<ApiJson<Buyer>> {
    let row: Option<BuyerRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {BUYER_COLUMNS} FROM buyers WHERE id = $1 AND organization_id = $2"
    )))
    .bind(buyer.buyer_id)
    .bind(buyer.org.id)
    .fetch_optional(&state.db.pool)
    .await?;
    Ok(ApiJson(
        row.ok_or_else(|| ApiError::not_found("buyer"))?.into(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    pub email: String,
}

/// Ask for a password reset. Always 202, whether or not the email has an account, so the
/// answer reveals nothing; an account holder gets an email with a one-time token (1 hour).
#[utoipa::path(
    post, path = "/consumer/auth/password-reset", tag = "buyer auth",
    request_body = PasswordResetRequest,
    responses((status = 202, description = "If the account exists, an email is on its way"), (status = 429, body = Problem)),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn request_password_reset(
    State(state): State<AppState>,
    storefront: StorefrontAccess,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<PasswordResetRequest>,
) -> ApiResult<StatusCode> {
    let org = storefront.org;
    let email = validate::email("email", &body.email)?;
    state
        .auth_limits
        .check(ip, Some(&format!("buyer-reset:{}:{email}", org.id)))?;
    if let Some(row) = find_by_email(&state, &org.id, &email).await? {
        let now = state.clock.now_ms();
        let mut tx = state.db.begin().await?;
        let token = one_time::create(
            &mut tx,
            Purpose::BuyerPasswordReset,
            &row.id,
            Some(&org.id),
            RESET_TTL_SECS,
            now,
        )
        .await?;
        outbox::enqueue(
            &mut tx,
            Email {
                organization_id: Some(&org.id),
                template: "buyer_password_reset",
                locale: &org.locale,
                to: &row.email,
                payload: json!({ "organization_name": org.name, "token": token, "name": row.name }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
    }
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirm {
    pub token: String,
    pub password: String,
}

/// Set a new password with the emailed token. Every existing login of the account ends.
#[utoipa::path(
    post, path = "/consumer/auth/password-reset/confirm", tag = "buyer auth",
    request_body = PasswordResetConfirm,
    responses(
        (status = 204, description = "Password changed"),
        (status = 400, description = "Invalid password, or unknown, used or expired token", body = Problem),
    ),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn confirm_password_reset(
    State(state): State<AppState>,
    storefront: StorefrontAccess,
    ApiJson(body): ApiJson<PasswordResetConfirm>,
) -> ApiResult<StatusCode> {
    validate::password("password", &body.password)?;
    let hash = hash_password(body.password).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let buyer_id = one_time::consume(
        &mut tx,
        Purpose::BuyerPasswordReset,
        &body.token,
        Some(&storefront.org.id),
        now,
    )
    .await?
    .ok_or_else(|| {
        ApiError::bad_request(
            "invalid_token",
            "the reset token is unknown, used or expired",
        )
    })?;
    sqlx::query("UPDATE buyers SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now)
        .bind(buyer_id.clone())
        .execute(&mut *tx)
        .await?;
    sessions::revoke_all(&mut tx, Subject::Buyer, &buyer_id, now).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmail {
    pub token: String,
}

/// Confirm the buyer's email address with the token sent at registration.
#[utoipa::path(
    post, path = "/consumer/auth/verify-email", tag = "buyer auth",
    request_body = VerifyEmail,
    responses((status = 204, description = "Verified"), (status = 400, body = Problem)),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn verify_email(
    State(state): State<AppState>,
    storefront: StorefrontAccess,
    ApiJson(body): ApiJson<VerifyEmail>,
) -> ApiResult<StatusCode> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let buyer_id = one_time::consume(
        &mut tx,
        Purpose::BuyerEmailVerification,
        &body.token,
        Some(&storefront.org.id),
        now,
    )
    .await?
    .ok_or_else(|| {
        ApiError::bad_request(
            "invalid_token",
            "the verification token is unknown, used or expired",
        )
    })?;
    sqlx::query(
        "UPDATE buyers SET email_verified_at = COALESCE(email_verified_at, $1), updated_at = $1 \
         WHERE id = $2",
    )
    .bind(now)
    .bind(buyer_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
