//! The rules of operator accounts: sign-up (with its organization, ownership and audit
//! entry in one transaction), password login, refresh, logout and accepting an invitation.

use serde_json::json;
use tracing::field::Empty;

use super::store;
use crate::ids::OrgId;
use crate::platform::error::{ApiError, ApiResult, is_unique_violation};
use crate::platform::ids::new_id;
use crate::platform::one_time::{self, Purpose};
use crate::platform::secrets::{dummy_verify, hash_password, verify_password};
use crate::platform::sessions::{self, Subject, TokenPair};
use crate::state::AppState;
use crate::tenancy::access::{Actor, ActorKind};
use crate::tenancy::audit::{self, Change};
use crate::tenancy::members::{self, MembershipSummary};
use crate::tenancy::organizations::{self, NewOrganization, Organization};
use crate::tenancy::roles::Role;

pub fn wrong_login() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "the email or password is wrong")
}

/// What the invitation email says: the invitee posts the token to
/// `/admin/auth/accept-invite` (through the operator console).
pub fn invite_payload(token: &str, organization_name: &str) -> serde_json::Value {
    json!({ "organization_name": organization_name, "token": token })
}

/// A sign-up, validated.
pub struct NewOperator {
    pub email: String,
    pub password: String,
    pub name: String,
    pub organization_name: String,
}

pub struct SignedUp {
    pub id: String,
    pub email: String,
    pub name: String,
    pub organization: Organization,
    pub tokens: TokenPair,
}

/// A login started: the account, its organizations and the new tokens.
pub struct LoggedIn {
    pub id: String,
    pub email: String,
    pub name: String,
    pub memberships: Vec<MembershipSummary>,
    pub tokens: TokenPair,
}

/// Creates the account and an organization it owns, and logs in.
#[tracing::instrument(skip_all, fields(org_id = Empty, operator_id = Empty))]
pub async fn signup(state: &AppState, new: NewOperator) -> ApiResult<SignedUp> {
    let NewOperator {
        email,
        password,
        name,
        organization_name,
    } = new;
    let hash = hash_password(password).await?;
    let now = state.clock.now_ms();
    let operator_id = new_id();
    let org_id = OrgId::from(new_id());
    let span = tracing::Span::current();
    span.record("org_id", org_id.as_str());
    span.record("operator_id", operator_id.as_str());

    let mut tx = state.db.begin().await?;
    match store::insert(&mut tx, &operator_id, &email, &name, hash, now).await {
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
            name: &organization_name,
            partner_id: None,
            external_ref: None,
        },
        now,
    )
    .await?;
    members::insert(&mut tx, &org_id, &operator_id, Role::Owner, now).await?;
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
    Ok(SignedUp {
        id: operator_id,
        email,
        name,
        organization,
        tokens,
    })
}

/// Logs in with email (already normalized) and password. An unknown email costs as much
/// time as a wrong password, so the answer's timing tells nothing.
#[tracing::instrument(skip_all, fields(operator_id = Empty))]
pub async fn login(state: &AppState, email: &str, password: String) -> ApiResult<LoggedIn> {
    let row = match store::find_by_email(&state.db, email).await? {
        Some(row) if row.password_hash.is_some() => row,
        _ => {
            dummy_verify(password).await;
            return Err(wrong_login());
        }
    };
    tracing::Span::current().record("operator_id", row.id.as_str());
    if !verify_password(password, row.password_hash.clone().unwrap_or_default()).await {
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
    let memberships = members::of_operator(&state.db, &row.id).await?;
    Ok(LoggedIn {
        id: row.id,
        email: row.email,
        name: row.name,
        memberships,
        tokens,
    })
}

/// Exchanges a refresh token for a new pair.
#[tracing::instrument(skip_all, fields(operator_id = Empty))]
pub async fn refresh(state: &AppState, refresh_token: &str) -> ApiResult<LoggedIn> {
    let now = state.clock.now_ms();
    let (session, tokens) = sessions::refresh(
        &state.db,
        Subject::Operator,
        refresh_token,
        now,
        state.lifetimes(),
    )
    .await?;
    tracing::Span::current().record("operator_id", session.subject_id.as_str());
    let row = store::get(&state.db, &session.subject_id).await?;
    let memberships = members::of_operator(&state.db, &row.id).await?;
    Ok(LoggedIn {
        id: row.id,
        email: row.email,
        name: row.name,
        memberships,
        tokens,
    })
}

/// Ends one login (its access and refresh tokens).
#[tracing::instrument(skip_all)]
pub async fn logout(state: &AppState, family_id: &str) -> ApiResult<()> {
    sessions::revoke_family(&state.db, family_id, state.clock.now_ms()).await?;
    Ok(())
}

/// Sets up an invited account with a (validated) name and password, and logs in.
#[tracing::instrument(skip_all, fields(operator_id = Empty))]
pub async fn accept_invite(
    state: &AppState,
    token: &str,
    name: String,
    password: String,
) -> ApiResult<LoggedIn> {
    let hash = hash_password(password).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let operator_id = one_time::consume(&mut tx, Purpose::OperatorInvite, token, None, now)
        .await?
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_token",
                "the invitation is unknown, used or expired",
            )
        })?;
    tracing::Span::current().record("operator_id", operator_id.as_str());
    if !store::set_up(&mut tx, &operator_id, &name, hash, now).await? {
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
    let email = store::email_of(&mut tx, &operator_id).await?;
    tx.commit().await?;
    let memberships = members::of_operator(&state.db, &operator_id).await?;
    Ok(LoggedIn {
        id: operator_id,
        email,
        name,
        memberships,
        tokens,
    })
}
