//! The operator account routes: parse, authorize, call the service, map the answer.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::service::{self, LoggedIn, NewOperator};
use super::store;
use crate::ids::OrgId;
use crate::platform::client_ip::ClientIp;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::sessions::TokenPair;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::AdminCaller;
use crate::tenancy::members::{self, MembershipSummary};
use crate::tenancy::organizations::{self, Organization};
use crate::tenancy::roles::Role;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Operator {
    pub id: String,
    pub email: String,
    pub name: String,
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
    let organization_name = validate::text("organization_name", &body.organization_name, 200)?;
    let signed_up = service::signup(
        &state,
        NewOperator {
            email,
            password: body.password,
            name,
            organization_name,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(SignupResponse {
            operator: Operator {
                id: signed_up.id,
                email: signed_up.email,
                name: signed_up.name,
            },
            organization: signed_up.organization,
            tokens: signed_up.tokens,
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

impl From<LoggedIn> for LoginResponse {
    fn from(logged_in: LoggedIn) -> Self {
        LoginResponse {
            operator: Operator {
                id: logged_in.id,
                email: logged_in.email,
                name: logged_in.name,
            },
            memberships: logged_in.memberships,
            tokens: logged_in.tokens,
        }
    }
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
    let logged_in = service::login(&state, &email, body.password).await?;
    Ok(ApiJson(logged_in.into()))
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
    let logged_in = service::refresh(&state, &body.refresh_token).await?;
    Ok(ApiJson(logged_in.into()))
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
            service::logout(&state, &family_id).await?;
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
    let logged_in = service::accept_invite(&state, &body.token, name, body.password).await?;
    Ok(ApiJson(logged_in.into()))
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
            let row = store::get(&state.db, &operator_id).await?;
            let memberships = members::of_operator(&state.db, &operator_id).await?;
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
            let org =
                organizations::service::get(&state.db, &OrgId::from(key.organization_id.as_str()))
                    .await?;
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
