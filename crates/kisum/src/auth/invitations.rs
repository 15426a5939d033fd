//! Invitations: a member who manages users invites someone by email with a role and the
//! grants the inviter may give; the emailed token makes the membership when accepted (and
//! the account, when the invitee has none). Single use, seven days.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use service::outbox::{self, Email};
use service::secrets::{hash_password, new_token, token_hash, verify_password};
use utoipa::ToSchema;

use super::access::Member;
use super::members;
use super::roles::Role;
use super::sessions::{self, TokenPair};
use super::users::{self, NewUser};
use crate::core::companies;
use crate::ids::{CompanyId, UserId};
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::validate;
use crate::state::AppState;

pub const INVITE_PREFIX: &str = "ksm_inv_";
const INVITE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Invite {
    pub email: String,
    pub role: Role,
    #[serde(default)]
    pub modules: Vec<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub modules: Vec<String>,
    pub permissions: Vec<String>,
    pub expires_at: String,
}

/// Invites someone into the company; the token goes by email only.
#[utoipa::path(post, path = "/auth/invitations", tag = "members", request_body = Invite,
    params(("x-org" = String, Header)),
    responses((status = 201, body = Invitation), (status = 400, body = Problem), (status = 403, description = "`delegation_denied`", body = Problem),
        (status = 409, description = "`already_a_member`", body = Problem), (status = 422, description = "`not_grantable`", body = Problem)),
    security(("bearer" = [])))]
pub async fn invite(
    State(state): State<AppState>,
    member: Member,
    ApiJson(body): ApiJson<Invite>,
) -> ApiResult<(StatusCode, ApiJson<Invitation>)> {
    if !member.delegation.can_manage_users {
        return Err(ApiError::forbidden_code(
            "delegation_denied",
            "your role cannot manage members",
        ));
    }
    let email = validate::email("email", &body.email)?;
    let (modules, permissions) = members::apply_grants(
        &state.catalog,
        &member,
        body.role,
        (&[], &[]),
        Some(&body.modules),
        &body.permissions,
    )?;
    let now = state.clock.now_ms();
    let token = new_token(INVITE_PREFIX);
    let id = new_id();
    let expires_at = now + INVITE_TTL_MS;
    let mut tx = state.db.begin().await?;
    if let Some(existing) = users::by_email(&mut tx, &email).await?
        && members::find(&mut tx, &member.company_id, &existing.id)
            .await?
            .is_some()
    {
        return Err(ApiError::conflict(
            "already_a_member",
            "this person is already a member of the company",
        ));
    }
    let company = companies::find(&mut tx, &member.company_id)
        .await?
        .ok_or_else(|| ApiError::not_found("company"))?;
    let inviter = users::by_id(&mut tx, &member.user_id)
        .await?
        .map(|u| u.name)
        .unwrap_or_default();
    sqlx::query(
        "INSERT INTO invitations (id, company_id, email, role, modules_json, permissions_json, \
         token_hash, invited_by, expires_at, accepted_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10)",
    )
    .bind(&id)
    .bind(member.company_id.as_str())
    .bind(&email)
    .bind(body.role.as_str())
    .bind(serde_json::to_string(&modules).unwrap_or_default())
    .bind(serde_json::to_string(&permissions).unwrap_or_default())
    .bind(token_hash(&token))
    .bind(member.user_id.as_str())
    .bind(expires_at)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    outbox::enqueue(
        &mut tx,
        Email {
            organization_id: Some(member.company_id.as_str()),
            template: super::mail::INVITATION,
            locale: "en",
            to: &email,
            payload: serde_json::json!({
                "company": company.name,
                "inviter": inviter,
                "role": body.role.as_str(),
                "token": token,
                "link": format!("{}/accept-invitation?token={token}", state.config.app_url.trim_end_matches('/')),
                "expires_at": rfc3339(expires_at),
            }),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(Invitation {
            id,
            email,
            role: body.role,
            modules,
            permissions,
            expires_at: rfc3339(expires_at),
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Accept {
    pub token: String,
    /// The password: of the existing account, or of the one being made.
    pub password: String,
    /// For a new account.
    pub name: Option<String>,
}

#[derive(sqlx::FromRow)]
struct InvitationRow {
    id: String,
    company_id: String,
    email: String,
    role: String,
    modules_json: String,
    permissions_json: String,
    expires_at: i64,
    accepted_at: Option<i64>,
}

/// Accepts an invitation: joins the company (making the account when the email has none)
/// and logs in.
#[utoipa::path(post, path = "/auth/invitations/accept", tag = "members", request_body = Accept,
    responses((status = 200, body = TokenPair), (status = 400, body = Problem),
        (status = 401, description = "`invalid_credentials`", body = Problem),
        (status = 404, description = "`invitation_not_found` (unknown, used or expired)", body = Problem),
        (status = 409, description = "`already_a_member`", body = Problem)))]
pub async fn accept(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Accept>,
) -> ApiResult<ApiJson<TokenPair>> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let row: Option<InvitationRow> = sqlx::query_as(state.db.sql(format!(
        "SELECT id, company_id, email, role, modules_json, permissions_json, expires_at, accepted_at \
         FROM invitations WHERE token_hash = $1{}",
        state.db.for_update()
    )))
    .bind(token_hash(body.token.trim()))
    .fetch_optional(&mut *tx)
    .await?;
    let row = row
        .filter(|r| r.accepted_at.is_none() && r.expires_at > now)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "invitation_not_found",
                "this invitation is unknown, used or expired",
            )
        })?;
    let user = match users::by_email(&mut tx, &row.email).await? {
        Some(user) => {
            if !verify_password(body.password, user.password_hash.clone()).await {
                return Err(ApiError::unauthorized(
                    "invalid_credentials",
                    "the password is not this account's",
                ));
            }
            user
        }
        None => {
            validate::password("password", &body.password)?;
            let name = validate::text("name", body.name.as_deref().unwrap_or(""), 200)?;
            let id = UserId::generate();
            let hash = hash_password(body.password).await?;
            users::insert(
                &mut tx,
                NewUser {
                    id: &id,
                    email: &row.email,
                    name: &name,
                    password_hash: &hash,
                },
                now,
            )
            .await?;
            users::by_id(&mut tx, &id)
                .await?
                .ok_or_else(|| ApiError::not_found("user"))?
        }
    };
    let company = CompanyId::from(row.company_id.as_str());
    let role = Role::parse(&row.role).unwrap_or(Role::User);
    let membership = members::insert(&mut tx, &user.id, &company, role, now).await?;
    let modules: Vec<String> = serde_json::from_str(&row.modules_json).unwrap_or_default();
    let permissions: Vec<String> = serde_json::from_str(&row.permissions_json).unwrap_or_default();
    members::set_grants(&mut tx, &membership, &modules, &permissions, now).await?;
    sqlx::query("UPDATE invitations SET accepted_at = $2 WHERE id = $1")
        .bind(&row.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let pair = sessions::issue(&state, &mut tx, &user.id, user.token_version, None, now).await?;
    tx.commit().await?;
    Ok(ApiJson(pair))
}
