//! Who is calling the operator API (`/admin/*`) and with what role, as extractors so each
//! handler declares the access it needs in its signature.
//!
//! `Authorization: Bearer <secret>` carries either an operator access token or an
//! organization API key; the prefix tells which. An operator who belongs to several
//! organizations names one with `X-Organization: <id>`.

use crate::ids::OrgId;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::roles::{Permission, Role};
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::secrets::prefix;
use crate::platform::sessions::{self, Subject};
use crate::state::AppState;

pub const ORGANIZATION_HEADER: &str = "x-organization";

/// Who did something, as recorded in the audit log.
#[derive(Clone, Debug)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActorKind {
    Operator,
    ApiKey,
    Partner,
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Operator => "operator",
            ActorKind::ApiKey => "api_key",
            ActorKind::Partner => "partner",
            ActorKind::System => "system",
        }
    }
}

/// Whether a credential moves real money. Operators act in live mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Live,
    Test,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Test => "test",
        }
    }
}

/// The credential on an `/admin/*` request, before an organization is chosen.
pub enum AdminCaller {
    Operator {
        operator_id: String,
        family_id: String,
    },
    ApiKey(ApiKeyCaller),
}

pub struct ApiKeyCaller {
    pub key_id: String,
    pub organization_id: String,
    pub role: Role,
    pub mode: Mode,
}

/// An authenticated caller acting in one organization with one role.
pub struct AdminAccess {
    pub org_id: OrgId,
    pub role: Role,
    pub actor: Actor,
    pub mode: Mode,
}

impl AdminAccess {
    /// 403 unless the caller's role grants `permission`.
    pub fn require(&self, permission: Permission) -> ApiResult<()> {
        if self.role.allows(permission) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "the {} role may not do this",
                self.role.as_str()
            )))
        }
    }
}

pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub fn missing_credentials() -> ApiError {
    ApiError::unauthorized(
        "missing_credentials",
        "send a credential as `Authorization: Bearer <secret>`",
    )
}

pub fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "the credential is not valid")
}

pub fn suspended() -> ApiError {
    ApiError::forbidden_code(
        "organization_suspended",
        "the organization is suspended; its credentials do not work",
    )
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let token = bearer(parts).ok_or_else(missing_credentials)?;
        let now = state.clock.now_ms();
        if token.starts_with(prefix::OPERATOR_ACCESS) {
            let session = sessions::authenticate(&state.db, Subject::Operator, token, now).await?;
            return Ok(AdminCaller::Operator {
                operator_id: session.subject_id,
                family_id: session.family_id,
            });
        }
        let mode = if token.starts_with(prefix::API_KEY_LIVE) {
            Mode::Live
        } else if token.starts_with(prefix::API_KEY_TEST) {
            Mode::Test
        } else {
            return Err(invalid_credentials());
        };
        let (key, _) = super::api_keys::authenticate(state, token, "admin", now).await?;
        let role = key
            .role
            .as_deref()
            .and_then(Role::parse)
            .ok_or_else(invalid_credentials)?;
        debug_assert_eq!(key.mode, mode.as_str());
        Ok(AdminCaller::ApiKey(ApiKeyCaller {
            key_id: key.id,
            organization_id: key.organization_id,
            role,
            mode,
        }))
    }
}

impl FromRequestParts<AppState> for AdminAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        match AdminCaller::from_request_parts(parts, state).await? {
            AdminCaller::ApiKey(key) => Ok(AdminAccess {
                org_id: key.organization_id.into(),
                role: key.role,
                actor: Actor {
                    kind: ActorKind::ApiKey,
                    id: key.key_id,
                },
                mode: key.mode,
            }),
            AdminCaller::Operator { operator_id, .. } => {
                let wanted = parts
                    .headers
                    .get(ORGANIZATION_HEADER)
                    .map(|v| v.to_str().map(str::to_string))
                    .transpose()
                    .map_err(|_| ApiError::invalid("X-Organization", "not a valid header value"))?;
                let (org_id, role) =
                    super::members::operator_role(state, &operator_id, wanted.as_deref()).await?;
                Ok(AdminAccess {
                    org_id: org_id.into(),
                    role,
                    actor: Actor {
                        kind: ActorKind::Operator,
                        id: operator_id,
                    },
                    mode: Mode::Live,
                })
            }
        }
    }
}
