//! Operator accounts: sign-up (which creates an organization owned by the new operator),
//! login, refresh, logout, accepting an invitation, and `GET /admin/me`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::access::{Actor, ActorKind, AdminCaller};
use super::audit::{self, Change};
use super::organizations::{self, NewOrganization, Organization};
use super::roles::Role;
use crate::platform::client_ip::ClientIp;
use crate::platform::error::{ApiError, ApiResult, Problem, is_unique_violation};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::one_time::{self, Purpose};
use crate::platform::secrets::{dummy_verify, hash_password, verify_password};
use crate::platform::sessions::{self, Subject, TokenPair};
use crate::platform::validate;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Operator {
    pub id: String,
    pub email: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipSummary {
    pub organization_id: String,
    pub organization_name: String,
    pub role: Role,
    /// `active` or `suspended` (the organization's status).
    pub status: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub email: String,
    /// 10 to 256 characters.
    pub password: String,
    pub name: String,
    pub organization_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignupResponse {
    pub operator: Operator,
    pub organization: Organization,
    pub tokens: TokenPair,
}

/// Sign up as an operator, creating an organization you own.
#[utoipa::path(
    post, path = "/admin/auth/signup", tag = "operator auth",
    request_body = SignupRequest,
    responses(
        (status = 201, body = SignupResponse),
        (status = 400, description = "A field is invalid", body = Problem),
        (status = 409, description = "The email already has an account (`email_taken`)", body = Problem),
        (status = 429, description = "Too many attempts", body = Problem),
    )
)]
pub async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<SignupRequest>,
) -> ApiResult<(StatusCode, ApiJson<SignupResponse>)> {
    state.auth_limits.check(ip, None)?;
    let email = validate::email("email", &body.email)?;
    validate::password("password", &body.password)?;
    let name = validate::text("name", &body.name, 200)?;
    let org_name = validate::text("organization_name", &body.organization_name, 200)?;
    let hash = hash_password(body.password).await?;
    let now = state.clock.now_ms();
    let operator_id = new_id();
    let org_id = new_id();

    let mut tx = state.db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO operators (id, email, name, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(operator_id.clone())
    .bind(email.clone())
    .bind(name.clone())
    .bind(hash)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(err) if is_unique_violation(&err) => {
            return Err(ApiError::conflict(
                "email_taken",
                "an operator account with this email exists; log in instead",
            ));
        }
        other => other?,
    };
    let org = organizations::insert(
        &mut tx,
        NewOrganization {
            id: &org_id,
            name: &org_name,
            partner_id: None,
            external_ref: None,
        },
        now,
    )
    .await?;
    super::members::insert(&mut tx, &org_id, &operator_id, Role::Owner, now).await?;
    let organization: Organization = org.into();
    let actor = Actor {
        kind: ActorKind::Operator,
        id: operator_id.clone(),
    };
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&org_id),
            actor: &actor,
            action: "organization.created",
            target_kind: "organization",
            target_id: &org_id,
            before: None,
            after: Some(organization.audit_json()),
        },
        now,
    )
    .await?;
    let tokens = sessions::start(
        &mut tx,
        Subject::Operator,
        &operator_id,
        None,
        now,
        state.lifetimes(),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(SignupResponse {
            operator: Operator {
                id: operator_id,
                email,
                name,
            },
            organization,
            tokens,
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    pub operator: Operator,
    pub memberships: Vec<MembershipSummary>,
    pub tokens: TokenPair,
}

#[derive(sqlx::FromRow)]
struct OperatorRow {
    id: String,
    email: String,
    name: String,
    password_hash: Option<String>,
}

/// Log in with email and password.
#[utoipa::path(
    post, path = "/admin/auth/login", tag = "operator auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, description = "Wrong email or password", body = Problem),
        (status = 429, description = "Too many attempts", body = Problem),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<ApiJson<LoginResponse>> {
    let email = body.email.trim().to_lowercase();
    state
        .auth_limits
        .check(ip, Some(&format!("operator:{email}")))?;
    let row: Option<OperatorRow> =
        sqlx::query_as("SELECT id, email, name, password_hash FROM operators WHERE email = $1")
            .bind(email)
            .fetch_optional(&state.db.pool)
            .await?;
    let row = match row {
        Some(row) if row.password_hash.is_some() => row,
        _ => {
            dummy_verify(body.password).await;
            return Err(wrong_login());
        }
    };
    if !verify_password(body.password, row.password_hash.clone().unwrap_or_default()).await {
        return Err(wrong_login());
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let tokens = sessions::start(
        &mut tx,
        Subject::Operator,
        &row.id,
        None,
        now,
        state.lifetimes(),
    )
    .await?;
    tx.commit().await?;
    let memberships = super::members::of_operator(&state.db, &row.id).await?;
    Ok(ApiJson(LoginResponse {
        operator: Operator {
            id: row.id,
            email: row.email,
            name: row.name,
        },
        memberships,
        tokens,
    }))
}

pub fn wrong_login() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "the email or password is wrong")
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchange a refresh token for a new token pair (the old refresh token stops working). The
/// answer has the same shape as login's.
#[utoipa::path(
    post, path = "/admin/auth/refresh", tag = "operator auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, description = "Unknown, used, revoked or expired refresh token", body = Problem),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<ApiJson<LoginResponse>> {
    let now = state.clock.now_ms();
    let (session, tokens) = sessions::refresh(
        &state.db,
        Subject::Operator,
        &body.refresh_token,
        now,
        state.lifetimes(),
    )
    .await?;
    let (id, email, name): (String, String, String) =
        sqlx::query_as("SELECT id, email, name FROM operators WHERE id = $1")
            .bind(session.subject_id.clone())
            .fetch_one(&state.db.pool)
            .await?;
    let memberships = super::members::of_operator(&state.db, &id).await?;
    Ok(ApiJson(LoginResponse {
        operator: Operator { id, email, name },
        memberships,
        tokens,
    }))
}

/// Log out: this login's access and refresh tokens stop working.
#[utoipa::path(
    post, path = "/admin/auth/logout", tag = "operator auth",
    responses((status = 204, description = "Logged out")),
    security(("bearer" = []))
)]
pub async fn logout(State(state): State<AppState>, caller: AdminCaller) -> ApiResult<StatusCode> {
    match caller {
        AdminCaller::Operator { family_id, .. } => {
            sessions::revoke_family(&state.db, &family_id, state.clock.now_ms()).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        AdminCaller::ApiKey(_) => Err(ApiError::bad_request(
            "not_a_session",
            "API keys do not log out; revoke the key instead",
        )),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInviteRequest {
    /// The token from the invitation email.
    pub token: String,
    pub name: String,
    pub password: String,
}

/// Accept an invitation to an organization by choosing a name and password.
#[utoipa::path(
    post, path = "/admin/auth/accept-invite", tag = "operator auth",
    request_body = AcceptInviteRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, description = "Invalid field, or unknown, used or expired token", body = Problem),
    )
)]
pub async fn accept_invite(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<AcceptInviteRequest>,
) -> ApiResult<ApiJson<LoginResponse>> {
    let name = validate::text("name", &body.name, 200)?;
    validate::password("password", &body.password)?;
    let hash = hash_password(body.password).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let operator_id = one_time::consume(&mut tx, Purpose::OperatorInvite, &body.token, None, now)
        .await?
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_token",
                "the invitation is unknown, used or expired",
            )
        })?;
    let updated = sqlx::query(
        "UPDATE operators SET name = $1, password_hash = $2, updated_at = $3 \
         WHERE id = $4 AND password_hash IS NULL",
    )
    .bind(name.clone())
    .bind(hash)
    .bind(now)
    .bind(operator_id.clone())
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(ApiError::bad_request(
            "invalid_token",
            "this account is already set up; log in instead",
        ));
    }
    let tokens = sessions::start(
        &mut tx,
        Subject::Operator,
        &operator_id,
        None,
        now,
        state.lifetimes(),
    )
    .await?;
    let email: String = sqlx::query_scalar("SELECT email FROM operators WHERE id = $1")
        .bind(operator_id.clone())
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    let memberships = super::members::of_operator(&state.db, &operator_id).await?;
    Ok(ApiJson(LoginResponse {
        operator: Operator {
            id: operator_id,
            email,
            name,
        },
        memberships,
        tokens,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyIdentity {
    pub id: String,
    pub role: Role,
    /// `live` or `test`.
    pub mode: String,
}

/// Who the credential belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// `operator` or `api_key`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<Operator>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memberships: Option<Vec<MembershipSummary>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<ApiKeyIdentity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<Organization>,
}

/// The calling operator and their organizations, or the calling API key and its organization.
#[utoipa::path(
    get, path = "/admin/me", tag = "operator auth",
    responses((status = 200, body = Me), (status = 401, body = Problem)),
    security(("bearer" = []))
)]
pub async fn me(State(state): State<AppState>, caller: AdminCaller) -> ApiResult<ApiJson<Me>> {
    match caller {
        AdminCaller::Operator { operator_id, .. } => {
            let row: OperatorRow = sqlx::query_as(
                "SELECT id, email, name, password_hash FROM operators WHERE id = $1",
            )
            .bind(operator_id.clone())
            .fetch_one(&state.db.pool)
            .await?;
            let memberships = super::members::of_operator(&state.db, &operator_id).await?;
            Ok(ApiJson(Me {
                kind: "operator".into(),
                operator: Some(Operator {
                    id: row.id,
                    email: row.email,
                    name: row.name,
                }),
                memberships: Some(memberships),
                api_key: None,
                organization: None,
            }))
        }
        AdminCaller::ApiKey(key) => {
            let org = organizations::find(&state.db, &key.organization_id)
                .await?
                .ok_or_else(|| ApiError::not_found("organization"))?;
            Ok(ApiJson(Me {
                kind: "api_key".into(),
                operator: None,
                memberships: None,
                api_key: Some(ApiKeyIdentity {
                    id: key.key_id,
                    role: key.role,
                    mode: key.mode.as_str().into(),
                }),
                organization: Some(org.into()),
            }))
        }
    }
}

/// Operators invited by email get an account without a password until they accept.
pub async fn find_or_invite(
    tx: &mut crate::platform::db::Tx,
    email: &str,
    now: i64,
) -> Result<(String, bool), sqlx::Error> {
    let existing: Option<String> = sqlx::query_scalar("SELECT id FROM operators WHERE email = $1")
        .bind(email.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(id) = existing {
        return Ok((id, false));
    }
    let id = new_id();
    sqlx::query(
        "INSERT INTO operators (id, email, name, created_at, updated_at) VALUES ($1, $2, '', $3, $3)",
    )
    .bind(id.clone())
    .bind(email.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok((id, true))
}

/// What the invitation email says: the invitee posts the token to
/// `/admin/auth/accept-invite` (through the operator console).
pub fn invite_payload(token: &str, organization_name: &str) -> serde_json::Value {
    json!({ "organization_name": organization_name, "token": token })
}
