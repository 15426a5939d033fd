//! Login sessions of operators and buyers: a short-lived access token and a rotating refresh
//! token, both random and stored only as hashes. Refreshing retires the old pair; presenting
//! a retired refresh token again revokes every session of that login (it was stolen or
//! replayed), and logout revokes them all too.

use serde::Serialize;
use utoipa::ToSchema;

use super::clock::{Millis, rfc3339};
use super::db::{Db, Tx};
use super::error::{ApiError, ApiResult};
use super::ids::new_id;
use super::secrets::{new_token, prefix, token_hash};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    Operator,
    Buyer,
}

impl Subject {
    fn kind(self) -> &'static str {
        match self {
            Subject::Operator => "operator",
            Subject::Buyer => "buyer",
        }
    }

    fn prefixes(self) -> (&'static str, &'static str) {
        match self {
            Subject::Operator => (prefix::OPERATOR_ACCESS, prefix::OPERATOR_REFRESH),
            Subject::Buyer => (prefix::BUYER_ACCESS, prefix::BUYER_REFRESH),
        }
    }
}

/// What a successful login or refresh answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub access_token_expires_at: String,
    pub refresh_token: String,
    pub refresh_token_expires_at: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
}

#[derive(Clone, Copy)]
pub struct Lifetimes {
    pub access_secs: i64,
    pub refresh_secs: i64,
}

/// An authenticated session.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub family_id: String,
    pub subject_id: String,
    pub organization_id: Option<String>,
}

/// Starts a new login (a new family) inside the caller's transaction.
pub async fn start(
    tx: &mut Tx,
    subject: Subject,
    subject_id: &str,
    organization_id: Option<&str>,
    now: Millis,
    lifetimes: Lifetimes,
) -> Result<TokenPair, sqlx::Error> {
    insert(
        tx,
        &new_id(),
        subject,
        subject_id,
        organization_id,
        now,
        lifetimes,
    )
    .await
}

async fn insert(
    tx: &mut Tx,
    family_id: &str,
    subject: Subject,
    subject_id: &str,
    organization_id: Option<&str>,
    now: Millis,
    lifetimes: Lifetimes,
) -> Result<TokenPair, sqlx::Error> {
    let (access_prefix, refresh_prefix) = subject.prefixes();
    let access = new_token(access_prefix);
    let refresh = new_token(refresh_prefix);
    let access_expires = now + lifetimes.access_secs * 1000;
    let refresh_expires = now + lifetimes.refresh_secs * 1000;
    sqlx::query(
        "INSERT INTO sessions (id, family_id, subject_kind, subject_id, organization_id, \
         access_hash, access_expires_at, refresh_hash, refresh_expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(new_id())
    .bind(family_id.to_string())
    .bind(subject.kind())
    .bind(subject_id.to_string())
    .bind(organization_id.map(str::to_string))
    .bind(token_hash(&access))
    .bind(access_expires)
    .bind(token_hash(&refresh))
    .bind(refresh_expires)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(TokenPair {
        access_token: access,
        access_token_expires_at: rfc3339(access_expires),
        refresh_token: refresh,
        refresh_token_expires_at: rfc3339(refresh_expires),
        token_type: "Bearer",
    })
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    family_id: String,
    subject_id: String,
    organization_id: Option<String>,
    access_expires_at: i64,
    refresh_expires_at: i64,
    rotated_at: Option<i64>,
    revoked_at: Option<i64>,
}

const SESSION_COLUMNS: &str = "family_id, subject_id, organization_id, access_expires_at, \
                               refresh_expires_at, rotated_at, revoked_at";

/// Resolves an access token to its session, or 401.
pub async fn authenticate(
    db: &Db,
    subject: Subject,
    access_token: &str,
    now: Millis,
) -> ApiResult<SessionInfo> {
    let row: Option<SessionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE access_hash = $1 AND subject_kind = $2"
    )))
    .bind(token_hash(access_token))
    .bind(subject.kind())
    .fetch_optional(&db.pool)
    .await?;
    match row {
        Some(row) if row.revoked_at.is_none() && row.rotated_at.is_none() => {
            if row.access_expires_at <= now {
                return Err(ApiError::unauthorized(
                    "token_expired",
                    "the access token has expired; refresh it",
                ));
            }
            Ok(SessionInfo {
                family_id: row.family_id,
                subject_id: row.subject_id,
                organization_id: row.organization_id,
            })
        }
        _ => Err(invalid_token()),
    }
}

fn invalid_token() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "the token is not valid")
}

/// Exchanges a refresh token for a new pair. A refresh token works once.
pub async fn refresh(
    db: &Db,
    subject: Subject,
    refresh_token: &str,
    now: Millis,
    lifetimes: Lifetimes,
) -> ApiResult<(SessionInfo, TokenPair)> {
    let mut tx = db.begin().await?;
    let row: Option<SessionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE refresh_hash = $1 AND subject_kind = $2"
    )))
    .bind(token_hash(refresh_token))
    .bind(subject.kind())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(invalid_token());
    };
    if row.revoked_at.is_some() {
        return Err(invalid_token());
    }
    if row.rotated_at.is_some() {
        // A retired refresh token came back: someone holds a copy. End the whole login.
        revoke_family_in(&mut tx, &row.family_id, now).await?;
        tx.commit().await?;
        tracing::warn!(family = %row.family_id, "refresh token reused; session family revoked");
        return Err(invalid_token());
    }
    if row.refresh_expires_at <= now {
        return Err(ApiError::unauthorized(
            "token_expired",
            "the refresh token has expired; log in again",
        ));
    }
    // Retire the old pair; the WHERE clause makes a concurrent second refresh lose.
    let retired = sqlx::query(
        "UPDATE sessions SET rotated_at = $1 WHERE refresh_hash = $2 AND rotated_at IS NULL \
         AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(token_hash(refresh_token))
    .execute(&mut *tx)
    .await?;
    if retired.rows_affected() != 1 {
        return Err(invalid_token());
    }
    let pair = insert(
        &mut tx,
        &row.family_id,
        subject,
        &row.subject_id,
        row.organization_id.as_deref(),
        now,
        lifetimes,
    )
    .await?;
    tx.commit().await?;
    let info = SessionInfo {
        family_id: row.family_id,
        subject_id: row.subject_id,
        organization_id: row.organization_id,
    };
    Ok((info, pair))
}

async fn revoke_family_in(tx: &mut Tx, family_id: &str, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(family_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Logout: the login's tokens, current and retired, stop working.
pub async fn revoke_family(db: &Db, family_id: &str, now: Millis) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    revoke_family_in(&mut tx, family_id, now).await?;
    tx.commit().await
}

/// Ends every login of a subject (after a password reset).
pub async fn revoke_all(
    tx: &mut Tx,
    subject: Subject,
    subject_id: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sessions SET revoked_at = $1 \
         WHERE subject_kind = $2 AND subject_id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(subject.kind())
    .bind(subject_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
