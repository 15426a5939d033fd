//! Single-use tokens sent by email (operator invitations, password resets). Stored hashed;
//! consuming one is a single conditional UPDATE, so a token works exactly once even when
//! presented twice at the same moment.

use super::clock::Millis;
use super::db::Tx;
use super::secrets::{new_token, prefix, token_hash};

#[derive(Clone, Copy)]
pub enum Purpose {
    OperatorInvite,
    BuyerPasswordReset,
    BuyerEmailVerification,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::OperatorInvite => "operator_invite",
            Purpose::BuyerPasswordReset => "buyer_password_reset",
            Purpose::BuyerEmailVerification => "buyer_email_verification",
        }
    }
}

pub async fn create(
    tx: &mut Tx,
    purpose: Purpose,
    subject_id: &str,
    organization_id: Option<&str>,
    ttl_secs: i64,
    now: Millis,
) -> Result<String, sqlx::Error> {
    let token = new_token(prefix::ONE_TIME);
    sqlx::query(
        "INSERT INTO one_time_tokens (token_hash, purpose, subject_id, organization_id, \
         expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash(&token))
    .bind(purpose.as_str())
    .bind(subject_id.to_string())
    .bind(organization_id.map(str::to_string))
    .bind(now + ttl_secs * 1000)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(token)
}

/// Uses the token up. Returns the subject it was issued for, or None when the token is
/// unknown, used, expired, or meant for something else.
pub async fn consume(
    tx: &mut Tx,
    purpose: Purpose,
    token: &str,
    organization_id: Option<&str>,
    now: Millis,
) -> Result<Option<String>, sqlx::Error> {
    // The organization is part of the match, so another storefront's token is refused
    // without being used up.
    sqlx::query_scalar(
        "UPDATE one_time_tokens SET used_at = $1 \
         WHERE token_hash = $2 AND purpose = $3 AND COALESCE(organization_id, '') = $4 \
         AND used_at IS NULL AND expires_at > $1 RETURNING subject_id",
    )
    .bind(now)
    .bind(token_hash(token))
    .bind(purpose.as_str())
    .bind(organization_id.unwrap_or_default().to_string())
    .fetch_optional(&mut **tx)
    .await
}
