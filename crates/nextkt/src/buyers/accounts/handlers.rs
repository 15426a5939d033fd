//! The buyer account routes: parse, authorize (the storefront credential, the buyer's
//! login), call the service, map the answer.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::service::{self, LoggedIn, NewBuyer};
use super::store::{self, BuyerRow};
use crate::buyers::access::{BuyerAccess, StorefrontAccess};
use crate::platform::client_ip::ClientIp;
use crate::platform::clock::{opt_rfc3339, rfc3339};
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::sessions::TokenPair;
use crate::platform::validate;
use crate::state::AppState;

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

impl From<LoggedIn> for BuyerSession {
    fn from(logged_in: LoggedIn) -> Self {
        BuyerSession {
            buyer: logged_in.buyer.into(),
            tokens: logged_in.tokens,
        }
    }
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
    let logged_in = service::register(
        &state,
        &org,
        NewBuyer {
            email,
            password: body.password,
            name,
            locale,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(logged_in.into())))
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
    let logged_in = service::login(&state, &org, &email, body.password).await?;
    Ok(ApiJson(logged_in.into()))
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
    let logged_in = service::refresh(&state, &storefront.org.id, &body.refresh_token).await?;
    Ok(ApiJson(logged_in.into()))
}

/// Log the buyer out: this login's tokens stop working.
#[utoipa::path(
    post, path = "/consumer/auth/logout", tag = "buyer auth",
    responses((status = 204, description = "Logged out"), (status = 401, body = Problem)),
    security(("internal_key" = [], "tenant" = [], "buyer" = []), ("storefront_key" = [], "buyer" = []))
)]
pub async fn logout(State(state): State<AppState>, buyer: BuyerAccess) -> ApiResult<StatusCode> {
    service::logout(&state, &buyer.family_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The logged-in buyer.
#[utoipa::path(
    get, path = "/consumer/me", tag = "buyer auth",
    responses((status = 200, body = Buyer), (status = 401, body = Problem)),
    security(("internal_key" = [], "tenant" = [], "buyer" = []), ("storefront_key" = [], "buyer" = []))
)]
pub async fn me(State(state): State<AppState>, buyer: BuyerAccess) -> ApiResult<ApiJson<Buyer>> {
    let row = store::find(&state.db, &buyer.org.id, &buyer.buyer_id).await?;
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
    service::request_password_reset(&state, &org, &email).await?;
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
    service::reset_password(&state, &storefront.org.id, &body.token, body.password).await?;
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
    service::verify_email(&state, &storefront.org.id, &body.token).await?;
    Ok(StatusCode::NO_CONTENT)
}
