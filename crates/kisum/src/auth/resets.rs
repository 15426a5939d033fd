//! Password reset by emailed token: asking always answers 202 (whether the email has an
//! account is not told); the token works once, for an hour, and using it ends every
//! session of the account.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use service::client_ip::ClientIp;
use service::outbox::{self, Email};
use service::secrets::{hash_password, new_token, token_hash};
use utoipa::ToSchema;

use super::users;
use crate::ids::UserId;
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::validate;
use crate::state::AppState;

pub const RESET_PREFIX: &str = "ksm_pr_";
const RESET_TTL_MS: i64 = 3600 * 1000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestReset {
    pub email: String,
}

/// Sends a password-reset email when the address has an account. Always 202.
#[utoipa::path(post, path = "/auth/password-reset", tag = "auth", request_body = RequestReset,
    responses((status = 202), (status = 400, body = Problem), (status = 429, body = Problem)))]
pub async fn request(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<RequestReset>,
) -> ApiResult<StatusCode> {
    let email = validate::email("email", &body.email)?;
    state
        .auth_limits
        .check(ip, Some(&format!("reset:{email}")))?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    if let Some(user) = users::by_email(&mut tx, &email).await? {
        let token = new_token(RESET_PREFIX);
        let expires_at = now + RESET_TTL_MS;
        sqlx::query(
            "INSERT INTO password_resets (id, user_id, token_hash, expires_at, used_at, created_at) \
             VALUES ($1, $2, $3, $4, NULL, $5)",
        )
        .bind(new_id())
        .bind(user.id.as_str())
        .bind(token_hash(&token))
        .bind(expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        outbox::enqueue(
            &mut tx,
            Email {
                organization_id: None,
                template: super::mail::PASSWORD_RESET,
                locale: "en",
                to: &email,
                payload: serde_json::json!({
                    "token": token,
                    "link": format!("{}/reset-password?token={token}", state.config.app_url.trim_end_matches('/')),
                    "expires_at": rfc3339(expires_at),
                }),
            },
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfirmReset {
    pub token: String,
    pub new_password: String,
}

/// Sets a new password with an emailed token; every session of the account ends.
#[utoipa::path(post, path = "/auth/password-reset/confirm", tag = "auth", request_body = ConfirmReset,
    responses((status = 204), (status = 400, description = "`validation_failed`, `invalid_reset_token` (unknown, used or expired)", body = Problem)))]
pub async fn confirm(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ConfirmReset>,
) -> ApiResult<StatusCode> {
    validate::password("newPassword", &body.new_password)?;
    let now = state.clock.now_ms();
    let hash = hash_password(body.new_password).await?;
    let mut tx = state.db.begin().await?;
    let found: Option<(String, String)> = sqlx::query_as(state.db.sql(format!(
        "SELECT id, user_id FROM password_resets WHERE token_hash = $1 AND used_at IS NULL \
         AND expires_at > $2{}",
        state.db.for_update()
    )))
    .bind(token_hash(body.token.trim()))
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let (reset_id, user_id) = found.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_reset_token",
            "this reset link is unknown, used or expired; ask for a new one",
        )
    })?;
    let user = UserId::from(user_id);
    sqlx::query("UPDATE password_resets SET used_at = $2 WHERE id = $1")
        .bind(&reset_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    users::set_password(&mut tx, &user, &hash, now).await?;
    users::bump_token_version(&mut tx, &user, now).await?;
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
