//! The rules of buyer accounts: registering (with the verification email), logging in,
//! refreshing within one storefront, password resets and email verification, each in one
//! transaction.

use serde_json::json;

use super::store::{self, BuyerRow};
use crate::notify::outbox::{self, Email};
use crate::platform::db::Tx;
use crate::platform::error::{ApiError, ApiResult, is_unique_violation};
use crate::platform::ids::new_id;
use crate::platform::one_time::{self, Purpose};
use crate::platform::secrets::{dummy_verify, hash_password, token_hash, verify_password};
use crate::platform::sessions::{self, Subject, TokenPair};
use crate::state::AppState;
use crate::tenancy::access::invalid_credentials;
use crate::tenancy::operators::wrong_login;
use crate::tenancy::organizations::OrganizationRow;

pub const RESET_TTL_SECS: i64 = 3600;
pub const VERIFY_TTL_SECS: i64 = 7 * 24 * 3600;

/// A login started: the account and its new tokens.
pub struct LoggedIn {
    pub buyer: BuyerRow,
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

/// A registration, validated.
pub struct NewBuyer {
    pub email: String,
    pub password: String,
    pub name: String,
    /// The language of the buyer's emails.
    pub locale: String,
}

/// Creates the account, sends the verification email and logs in.
#[tracing::instrument(skip_all, fields(org_id = %org.id, buyer_id = tracing::field::Empty))]
pub async fn register(
    state: &AppState,
    org: &OrganizationRow,
    new: NewBuyer,
) -> ApiResult<LoggedIn> {
    let NewBuyer {
        email,
        password,
        name,
        locale,
    } = new;
    let hash = hash_password(password).await?;
    let now = state.clock.now_ms();
    let row = BuyerRow {
        id: new_id(),
        organization_id: org.id.to_string(),
        email,
        name,
        password_hash: hash,
        email_verified_at: None,
        created_at: now,
    };
    tracing::Span::current().record("buyer_id", row.id.as_str());
    let mut tx = state.db.begin().await?;
    match store::insert(&mut tx, &row).await {
        Err(err) if is_unique_violation(&err) => {
            return Err(ApiError::conflict(
                "email_taken",
                "an account with this email exists here; log in or reset the password",
            ));
        }
        other => other?,
    };
    send_verification(&mut tx, org, &row.id, &row.email, &locale, now).await?;
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
    Ok(LoggedIn { buyer: row, tokens })
}

/// Logs in with email (already normalized) and password. An unknown email costs as much
/// time as a wrong password, so the answer's timing tells nothing.
#[tracing::instrument(skip_all, fields(org_id = %org.id, buyer_id = tracing::field::Empty))]
pub async fn login(
    state: &AppState,
    org: &OrganizationRow,
    email: &str,
    password: String,
) -> ApiResult<LoggedIn> {
    let Some(row) = store::find_by_email(&state.db, &org.id, email).await? else {
        dummy_verify(password).await;
        return Err(wrong_login());
    };
    tracing::Span::current().record("buyer_id", row.id.as_str());
    if !verify_password(password, row.password_hash.clone()).await {
        return Err(wrong_login());
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
    Ok(LoggedIn { buyer: row, tokens })
}

/// Exchanges a refresh token issued at this storefront for a new pair.
#[tracing::instrument(skip_all, fields(org_id = %org_id, buyer_id = tracing::field::Empty))]
pub async fn refresh(state: &AppState, org_id: &str, refresh_token: &str) -> ApiResult<LoggedIn> {
    // Check the token's organization before rotating, so another storefront's token is
    // refused without being used up.
    let now = state.clock.now_ms();
    let owner = store::session_organization(&state.db, &token_hash(refresh_token)).await?;
    if owner.flatten().as_deref() != Some(org_id) {
        return Err(invalid_credentials());
    }
    let (session, tokens) = sessions::refresh(
        &state.db,
        Subject::Buyer,
        refresh_token,
        now,
        state.lifetimes(),
    )
    .await?;
    tracing::Span::current().record("buyer_id", session.subject_id.as_str());
    let row = store::get(&state.db, &session.subject_id).await?;
    Ok(LoggedIn { buyer: row, tokens })
}

/// Ends one login (its access and refresh tokens).
#[tracing::instrument(skip_all)]
pub async fn logout(state: &AppState, family_id: &str) -> ApiResult<()> {
    sessions::revoke_family(&state.db, family_id, state.clock.now_ms()).await?;
    Ok(())
}

/// Emails a reset token when the (validated) email has an account here; nothing otherwise.
#[tracing::instrument(skip_all, fields(org_id = %org.id))]
pub async fn request_password_reset(
    state: &AppState,
    org: &OrganizationRow,
    email: &str,
) -> ApiResult<()> {
    if let Some(row) = store::find_by_email(&state.db, &org.id, email).await? {
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
    Ok(())
}

/// Sets a new (validated) password with an emailed token; every login of the account ends.
#[tracing::instrument(skip_all, fields(org_id = %org_id, buyer_id = tracing::field::Empty))]
pub async fn reset_password(
    state: &AppState,
    org_id: &str,
    token: &str,
    password: String,
) -> ApiResult<()> {
    let hash = hash_password(password).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let buyer_id = one_time::consume(
        &mut tx,
        Purpose::BuyerPasswordReset,
        token,
        Some(org_id),
        now,
    )
    .await?
    .ok_or_else(|| {
        ApiError::bad_request(
            "invalid_token",
            "the reset token is unknown, used or expired",
        )
    })?;
    tracing::Span::current().record("buyer_id", buyer_id.as_str());
    store::set_password(&mut tx, &buyer_id, hash, now).await?;
    sessions::revoke_all(&mut tx, Subject::Buyer, &buyer_id, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Confirms the buyer's email with the token sent at registration.
#[tracing::instrument(skip_all, fields(org_id = %org_id, buyer_id = tracing::field::Empty))]
pub async fn verify_email(state: &AppState, org_id: &str, token: &str) -> ApiResult<()> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let buyer_id = one_time::consume(
        &mut tx,
        Purpose::BuyerEmailVerification,
        token,
        Some(org_id),
        now,
    )
    .await?
    .ok_or_else(|| {
        ApiError::bad_request(
            "invalid_token",
            "the verification token is unknown, used or expired",
        )
    })?;
    tracing::Span::current().record("buyer_id", buyer_id.as_str());
    store::mark_verified(&mut tx, &buyer_id, now).await?;
    tx.commit().await?;
    Ok(())
}
