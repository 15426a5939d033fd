//! Partners: platform-level clients (Kisum first) that provision organizations and hold
//! their keys. A partner sees and changes only the organizations it provisioned, and can do
//! nothing else.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::{Actor, ActorKind, Mode, bearer, invalid_credentials, missing_credentials};
use super::api_keys::{self, ApiKey, CreatedApiKey, KeyKind, KeyMode, NewKey};
use super::organizations::{self, COLUMNS, NewOrganization, Organization, OrganizationRow};
use super::roles::Role;
use crate::platform::db::Db;
use crate::platform::error::{ApiError, ApiResult, Problem, is_unique_violation};
use crate::platform::ids::{is_valid_external_id, new_id};
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::platform::secrets::{new_token, prefix, token_hash, visible_prefix};
use crate::platform::validate;
use crate::state::AppState;

/// Creates a partner (from the `nextkt partner create` command). Returns its id and key.
pub async fn create(db: &Db, name: &str, now: i64) -> anyhow::Result<(String, String)> {
    let name = validate::text("name", name, 200).map_err(|e| anyhow::anyhow!("{}", e.detail))?;
    let id = new_id();
    let secret = new_token(prefix::PARTNER);
    sqlx::query(
        "INSERT INTO partners (id, name, key_prefix, key_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id.clone())
    .bind(name)
    .bind(visible_prefix(&secret, prefix::PARTNER))
    .bind(token_hash(&secret))
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok((id, secret))
}

/// Stores (or with `None` clears) the partner's platform-fee deal, as the JSON commerce
/// reads it back from. False when there is no such partner.
pub async fn set_fee_json(
    db: &Db,
    partner_id: &str,
    fee_json: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE partners SET fee_json = $1 WHERE id = $2")
        .bind(fee_json.map(str::to_string))
        .bind(partner_id.to_string())
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A request authenticated with a partner key.
pub struct PartnerAccess {
    pub partner_id: String,
    pub partner_name: String,
}

impl PartnerAccess {
    pub fn actor(&self) -> Actor {
        Actor {
            kind: ActorKind::Partner,
            id: self.partner_id.clone(),
        }
    }
}

impl FromRequestParts<AppState> for PartnerAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let token = bearer(parts).ok_or_else(missing_credentials)?;
        if !token.starts_with(prefix::PARTNER) {
            return Err(invalid_credentials());
        }
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT id, name FROM partners WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash(token))
        .fetch_optional(&state.db.pool)
        .await?;
        let (partner_id, partner_name) = row.ok_or_else(invalid_credentials)?;
        Ok(PartnerAccess {
            partner_id,
            partner_name,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvisionOrganization {
    pub name: String,
    /// The partner's own reference for this organization; provisioning is idempotent on it.
    pub external_ref: String,
    /// Optional organization id to use (e.g. the partner's company id): 1–64 characters of
    /// letters, digits, `-`, `_`, `.`.
    pub id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProvisionedOrganization {
    pub organization: Organization,
    /// The first admin API key, with its secret: present only when the organization was
    /// created by this request.
    pub api_key: Option<CreatedApiKey>,
    /// False when the `external_ref` was provisioned before and this is a replay.
    pub created: bool,
}

async fn find_by_ref(
    db: &Db,
    partner_id: &str,
    external_ref: &str,
) -> Result<Option<OrganizationRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM organizations WHERE partner_id = $1 AND external_ref = $2"
    )))
    .bind(partner_id.to_string())
    .bind(external_ref.to_string())
    .fetch_optional(&db.pool)
    .await
}

fn replay(
    existing: OrganizationRow,
    wanted_id: Option<&str>,
) -> ApiResult<(StatusCode, ApiJson<ProvisionedOrganization>)> {
    if wanted_id.is_some_and(|id| id != existing.id) {
        return Err(ApiError::conflict(
            "external_ref_conflict",
            "this external_ref was provisioned with another organization id",
        ));
    }
    Ok((
        StatusCode::OK,
        ApiJson(ProvisionedOrganization {
            organization: existing.into(),
            api_key: None,
            created: false,
        }),
    ))
}

/// Provision an organization. The same `external_ref` again answers 200 with the same
/// organization and no new secret.
#[utoipa::path(
    post, path = "/partner/organizations", tag = "partner",
    request_body = ProvisionOrganization,
    responses(
        (status = 201, description = "Created, with the first admin API key", body = ProvisionedOrganization),
        (status = 200, description = "Provisioned before: the same organization, no secret", body = ProvisionedOrganization),
        (status = 400, body = Problem),
        (status = 409, description = "The chosen id is taken (`organization_id_taken`)", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn provision(
    State(state): State<AppState>,
    partner: PartnerAccess,
    ApiJson(body): ApiJson<ProvisionOrganization>,
) -> ApiResult<(StatusCode, ApiJson<ProvisionedOrganization>)> {
    let name = validate::text("name", &body.name, 200)?;
    let external_ref = validate::text("external_ref", &body.external_ref, 128)?;
    if let Some(id) = &body.id
        && !is_valid_external_id(id)
    {
        return Err(ApiError::invalid(
            "id",
            "must be 1-64 characters of letters, digits, '-', '_' or '.'",
        ));
    }
    if let Some(existing) = find_by_ref(&state.db, &partner.partner_id, &external_ref).await? {
        return replay(existing, body.id.as_deref());
    }
    let org_id = body.id.clone().unwrap_or_else(new_id);
    let now = state.clock.now_ms();
    let actor = partner.actor();
    let mut tx = state.db.begin().await?;
    let inserted = organizations::insert(
        &mut tx,
        NewOrganization {
            id: &org_id,
            name: &name,
            partner_id: Some(&partner.partner_id),
            external_ref: Some(&external_ref),
        },
        now,
    )
    .await;
    let row = match inserted {
        Ok(row) => row,
        Err(err) if is_unique_violation(&err) => {
            drop(tx);
            // Either a concurrent request provisioned this reference first, or the id is taken.
            if let Some(existing) =
                find_by_ref(&state.db, &partner.partner_id, &external_ref).await?
            {
                return replay(existing, body.id.as_deref());
            }
            return Err(ApiError::conflict(
                "organization_id_taken",
                "an organization with this id exists",
            ));
        }
        Err(err) => return Err(err.into()),
    };
    let organization: Organization = row.into();
    super::audit::record(
        &mut tx,
        super::audit::Change {
            org_id: Some(&org_id),
            actor: &actor,
            action: "organization.provisioned",
            target_kind: "organization",
            target_id: &org_id,
            before: None,
            after: Some(organization.audit_json()),
        },
        now,
    )
    .await?;
    let key_name = format!("Provisioned by {}", partner.partner_name);
    let key = api_keys::create_in(
        &mut tx,
        NewKey {
            org_id: &org_id,
            kind: KeyKind::Admin,
            mode: Mode::Live,
            name: &key_name,
            role: Some(Role::Admin),
            expires_at: None,
            created_by: &actor,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(ProvisionedOrganization {
            organization,
            api_key: Some(key),
            created: true,
        }),
    ))
}

/// The organizations this partner provisioned.
#[utoipa::path(
    get, path = "/partner/organizations", tag = "partner",
    params(PageParams),
    responses((status = 200, body = Page<Organization>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    partner: PartnerAccess,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<Organization>>> {
    let page = page.parse()?;
    let rows: Vec<OrganizationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM organizations WHERE partner_id = $1 \
         AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3"
    )))
    .bind(partner.partner_id.clone())
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&state.db.pool)
    .await?;
    Ok(ApiJson(
        page.finish(rows, |r| &r.id).map(Organization::from),
    ))
}

/// One of this partner's organizations, or 404.
pub async fn owned(
    state: &AppState,
    partner: &PartnerAccess,
    org_id: &str,
) -> ApiResult<OrganizationRow> {
    organizations::find(&state.db, org_id)
        .await?
        .filter(|row| row.partner_id.as_deref() == Some(partner.partner_id.as_str()))
        .ok_or_else(|| ApiError::not_found("organization"))
}

/// One organization this partner provisioned.
#[utoipa::path(
    get, path = "/partner/organizations/{org_id}", tag = "partner",
    params(("org_id" = String, Path)),
    responses((status = 200, body = Organization), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    partner: PartnerAccess,
    Path(org_id): Path<String>,
) -> ApiResult<ApiJson<Organization>> {
    Ok(ApiJson(owned(&state, &partner, &org_id).await?.into()))
}

/// The organization's admin API keys (never their secrets).
#[utoipa::path(
    get, path = "/partner/organizations/{org_id}/api-keys", tag = "partner",
    params(("org_id" = String, Path), PageParams),
    responses((status = 200, body = Page<ApiKey>), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn list_keys(
    State(state): State<AppState>,
    partner: PartnerAccess,
    Path(org_id): Path<String>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<ApiKey>>> {
    owned(&state, &partner, &org_id).await?;
    Ok(ApiJson(
        api_keys::list_of(&state, &org_id, KeyKind::Admin, &page).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerCreateKey {
    pub name: Option<String>,
    /// Default `admin`.
    pub role: Option<Role>,
    pub mode: Option<KeyMode>,
    /// Revoke every other admin key of the organization in the same step (rotation).
    #[serde(default)]
    pub revoke_others: bool,
}

/// Issue a new admin API key for the organization, optionally revoking the others (rotation).
#[utoipa::path(
    post, path = "/partner/organizations/{org_id}/api-keys", tag = "partner",
    params(("org_id" = String, Path)),
    request_body = PartnerCreateKey,
    responses((status = 201, body = CreatedApiKey), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn create_key(
    State(state): State<AppState>,
    partner: PartnerAccess,
    Path(org_id): Path<String>,
    ApiJson(body): ApiJson<PartnerCreateKey>,
) -> ApiResult<(StatusCode, ApiJson<CreatedApiKey>)> {
    owned(&state, &partner, &org_id).await?;
    let name = match &body.name {
        Some(name) => validate::text("name", name, 100)?,
        None => format!("Provisioned by {}", partner.partner_name),
    };
    let now = state.clock.now_ms();
    let actor = partner.actor();
    let mut tx = state.db.begin().await?;
    organizations::find_in(&state.db, &mut tx, &org_id).await?;
    if body.revoke_others {
        let others: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM api_keys WHERE organization_id = $1 AND kind = 'admin' \
             AND revoked_at IS NULL",
        )
        .bind(org_id.clone())
        .fetch_all(&mut *tx)
        .await?;
        for key_id in others {
            api_keys::revoke_in(&mut tx, &org_id, &key_id, KeyKind::Admin, &actor, now).await?;
        }
    }
    let created = api_keys::create_in(
        &mut tx,
        NewKey {
            org_id: &org_id,
            kind: KeyKind::Admin,
            mode: match body.mode {
                Some(KeyMode::Test) => Mode::Test,
                _ => Mode::Live,
            },
            name: &name,
            role: Some(body.role.unwrap_or(Role::Admin)),
            expires_at: None,
            created_by: &actor,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(created)))
}

/// Revoke one of the organization's admin API keys.
#[utoipa::path(
    delete, path = "/partner/organizations/{org_id}/api-keys/{key_id}", tag = "partner",
    params(("org_id" = String, Path), ("key_id" = String, Path)),
    responses((status = 204, description = "Revoked"), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn revoke_key(
    State(state): State<AppState>,
    partner: PartnerAccess,
    Path((org_id, key_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    owned(&state, &partner, &org_id).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    api_keys::revoke_in(
        &mut tx,
        &org_id,
        &key_id,
        KeyKind::Admin,
        &partner.actor(),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_suspended(
    state: &AppState,
    partner: &PartnerAccess,
    org_id: &str,
    suspended: bool,
) -> ApiResult<ApiJson<Organization>> {
    owned(state, partner, org_id).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    organizations::set_suspended(&mut tx, org_id, suspended, &partner.actor(), now).await?;
    tx.commit().await?;
    state.credential_cache.clear();
    state.device_cache.clear();
    Ok(ApiJson(owned(state, partner, org_id).await?.into()))
}

/// Suspend the organization: its API keys, storefront keys and operator access stop working.
#[utoipa::path(
    post, path = "/partner/organizations/{org_id}/suspend", tag = "partner",
    params(("org_id" = String, Path)),
    responses((status = 200, body = Organization), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn suspend(
    State(state): State<AppState>,
    partner: PartnerAccess,
    Path(org_id): Path<String>,
) -> ApiResult<ApiJson<Organization>> {
    set_suspended(&state, &partner, &org_id, true).await
}

/// Lift a suspension.
#[utoipa::path(
    post, path = "/partner/organizations/{org_id}/resume", tag = "partner",
    params(("org_id" = String, Path)),
    responses((status = 200, body = Organization), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn resume(
    State(state): State<AppState>,
    partner: PartnerAccess,
    Path(org_id): Path<String>,
) -> ApiResult<ApiJson<Organization>> {
    set_suspended(&state, &partner, &org_id, false).await
}
