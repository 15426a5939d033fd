//! The partner routes (`/partner/*`): parse, authorize (the organization must be the
//! partner's), call the service, map the answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::PartnerAccess;
use super::service::{self, NewProvision, PartnerKey, owned};
use super::store;
use crate::ids::OrgId;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::ids::is_valid_external_id;
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::Mode;
use crate::tenancy::api_keys::{self, ApiKey, CreatedApiKey, KeyKind, KeyMode};
use crate::tenancy::organizations::Organization;
use crate::tenancy::roles::Role;

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
    let provisioned = service::provision(
        &state,
        &partner,
        NewProvision {
            name,
            external_ref,
            id: body.id,
        },
    )
    .await?;
    let status = if provisioned.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        ApiJson(ProvisionedOrganization {
            organization: provisioned.organization,
            api_key: provisioned.api_key,
            created: provisioned.created,
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
    let rows = store::organizations_page(&state.db, &partner.partner_id, &page).await?;
    Ok(ApiJson(
        page.finish(rows, |r| &r.id).map(Organization::from),
    ))
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
    Path(org_id): Path<OrgId>,
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
    Path(org_id): Path<OrgId>,
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
    Path(org_id): Path<OrgId>,
    ApiJson(body): ApiJson<PartnerCreateKey>,
) -> ApiResult<(StatusCode, ApiJson<CreatedApiKey>)> {
    owned(&state, &partner, &org_id).await?;
    let name = match &body.name {
        Some(name) => validate::text("name", name, 100)?,
        None => format!("Provisioned by {}", partner.partner_name),
    };
    let created = service::create_key(
        &state,
        &partner,
        &org_id,
        PartnerKey {
            name,
            role: body.role.unwrap_or(Role::Admin),
            mode: match body.mode {
                Some(KeyMode::Test) => Mode::Test,
                _ => Mode::Live,
            },
            revoke_others: body.revoke_others,
        },
    )
    .await?;
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
    Path((org_id, key_id)): Path<(OrgId, String)>,
) -> ApiResult<StatusCode> {
    owned(&state, &partner, &org_id).await?;
    service::revoke_key(&state, &partner, &org_id, &key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_suspended(
    state: &AppState,
    partner: &PartnerAccess,
    org_id: &OrgId,
    suspended: bool,
) -> ApiResult<ApiJson<Organization>> {
    owned(state, partner, org_id).await?;
    let row = service::set_suspended(state, partner, org_id, suspended).await?;
    Ok(ApiJson(row.into()))
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
    Path(org_id): Path<OrgId>,
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
    Path(org_id): Path<OrgId>,
) -> ApiResult<ApiJson<Organization>> {
    set_suspended(&state, &partner, &org_id, false).await
}
