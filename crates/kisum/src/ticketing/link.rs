//! Linking a company's ticketing: provision its Nextkt organization, keep the
//! organization's key sealed, rotate it, unlink (revoking the key).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::nextkt::{Nextkt, NextktError};
use super::sealing::Sealer;
use crate::auth::access::Member;
use crate::auth::roles::Role;
use crate::core::companies;
use crate::ids::CompanyId;
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::state::AppState;

impl From<NextktError> for ApiError {
    fn from(err: NextktError) -> Self {
        match err {
            NextktError::Unavailable(why) => {
                tracing::warn!(reason = %why, "Nextkt unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "nextkt_unavailable",
                    "the ticketing platform does not answer right now; try again",
                )
            }
            NextktError::Refused(status, body) => {
                tracing::warn!(status, body = %body, "Nextkt refused a partner call");
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "nextkt_refused",
                    format!("the ticketing platform refused the request ({status})"),
                )
            }
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketingLink {
    pub company_id: String,
    pub nextkt_organization_id: String,
    /// `linked` or `unlinked`.
    pub status: String,
    pub linked_by: String,
    pub updated_at: String,
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    company_id: String,
    nextkt_org_id: String,
    api_key_id: Option<String>,
    api_key_sealed: Option<String>,
    status: String,
    linked_by: String,
    updated_at: i64,
}

impl From<LinkRow> for TicketingLink {
    fn from(row: LinkRow) -> Self {
        TicketingLink {
            company_id: row.company_id,
            nextkt_organization_id: row.nextkt_org_id,
            status: row.status,
            linked_by: row.linked_by,
            updated_at: rfc3339(row.updated_at),
        }
    }
}

fn clients(state: &AppState) -> ApiResult<(&Nextkt, &Sealer)> {
    match (state.nextkt.as_deref(), state.sealer.as_deref()) {
        (Some(nextkt), Some(sealer)) => Ok((nextkt, sealer)),
        _ => Err(not_configured()),
    }
}

pub fn not_configured() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "ticketing_not_configured",
        "this server is not connected to Nextkt (KISUM_NEXTKT_URL, KISUM_NEXTKT_PARTNER_KEY, KISUM_SECRETS_KEY)",
    )
}

/// Ticketing is not a module: linking needs a superadmin or an admin of the company.
fn require_linker(member: &Member) -> ApiResult<()> {
    if matches!(member.tenant_role, Role::TenantSuperadmin | Role::Admin) {
        Ok(())
    } else {
        Err(ApiError::forbidden_code(
            "delegation_denied",
            "linking ticketing needs a superadmin or an admin of the company",
        ))
    }
}

async fn find(state: &AppState, company: &CompanyId) -> ApiResult<Option<LinkRow>> {
    Ok(sqlx::query_as(
        "SELECT company_id, nextkt_org_id, api_key_id, api_key_sealed, status, linked_by, updated_at \
         FROM ticketing_links WHERE company_id = $1",
    )
    .bind(company.as_str())
    .fetch_optional(&state.db.pool)
    .await?)
}

async fn store(
    state: &AppState,
    company: &CompanyId,
    org: &str,
    key: Option<(&str, &str)>,
    linked_by: &str,
) -> ApiResult<LinkRow> {
    let now = state.clock.now_ms();
    let sealed = match key {
        Some((_, secret)) => {
            let (_, sealer) = clients(state)?;
            Some(sealer.seal(secret, company.as_str())?)
        }
        None => None,
    };
    sqlx::query(
        "INSERT INTO ticketing_links (company_id, nextkt_org_id, api_key_id, api_key_sealed, status, \
         linked_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
         ON CONFLICT (company_id) DO UPDATE SET nextkt_org_id = excluded.nextkt_org_id, \
         api_key_id = excluded.api_key_id, api_key_sealed = excluded.api_key_sealed, \
         status = excluded.status, linked_by = excluded.linked_by, updated_at = excluded.updated_at",
    )
    .bind(company.as_str())
    .bind(org)
    .bind(key.map(|(id, _)| id))
    .bind(sealed)
    .bind(if key.is_some() { "linked" } else { "unlinked" })
    .bind(linked_by)
    .bind(now)
    .execute(&state.db.pool)
    .await?;
    find(state, company)
        .await?
        .ok_or_else(|| ApiError::not_found("ticketing link"))
}

/// The company's Nextkt organization and its API key, for driving it (`None`: not linked).
pub async fn organization_key(
    state: &AppState,
    company: &CompanyId,
) -> ApiResult<Option<(String, String)>> {
    let Some(row) = find(state, company).await? else {
        return Ok(None);
    };
    let (Some(sealed), "linked") = (row.api_key_sealed, row.status.as_str()) else {
        return Ok(None);
    };
    let (_, sealer) = clients(state)?;
    Ok(Some((
        row.nextkt_org_id,
        sealer.open(&sealed, company.as_str())?,
    )))
}

/// Links the company's ticketing: provisions its Nextkt organization (or finds it again)
/// and keeps a fresh admin key for it, sealed. Safe to repeat: a retry after a lost
/// answer finds the same organization and takes over with a new key.
#[utoipa::path(post, path = "/ticketing/link", tag = "ticketing",
    params(("x-org" = String, Header)),
    responses((status = 200, body = TicketingLink), (status = 403, body = Problem),
        (status = 502, description = "`nextkt_refused`", body = Problem),
        (status = 503, description = "`ticketing_not_configured`, `nextkt_unavailable`", body = Problem)),
    security(("bearer" = [])))]
pub async fn link(
    State(state): State<AppState>,
    member: Member,
) -> ApiResult<ApiJson<TicketingLink>> {
    require_linker(&member)?;
    let (nextkt, _) = clients(&state)?;
    let mut conn = state.db.pool.acquire().await?;
    let company = companies::find(&mut conn, &member.company_id)
        .await?
        .ok_or_else(|| ApiError::not_found("company"))?;
    drop(conn);
    let (org, first_key) = nextkt.provision(company.id.as_str(), &company.name).await?;
    let key = match first_key {
        Some(key) => key,
        None => nextkt.new_key(&org).await?,
    };
    let row = store(
        &state,
        &member.company_id,
        &org,
        Some((&key.id, &key.secret)),
        &format!("user:{}", member.user_id),
    )
    .await?;
    Ok(ApiJson(row.into()))
}

/// The company's ticketing link (never its key).
#[utoipa::path(get, path = "/ticketing/link", tag = "ticketing",
    params(("x-org" = String, Header)),
    responses((status = 200, body = TicketingLink), (status = 404, description = "`not_linked`", body = Problem)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    member: Member,
) -> ApiResult<ApiJson<TicketingLink>> {
    let row = find(&state, &member.company_id)
        .await?
        .ok_or_else(not_linked)?;
    Ok(ApiJson(row.into()))
}

fn not_linked() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_linked",
        "the company's ticketing is not linked",
    )
}

/// Rotates the organization's key: a new one is kept, every other is revoked in Nextkt.
#[utoipa::path(post, path = "/ticketing/link/rotate", tag = "ticketing",
    params(("x-org" = String, Header)),
    responses((status = 200, body = TicketingLink), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn rotate(
    State(state): State<AppState>,
    member: Member,
) -> ApiResult<ApiJson<TicketingLink>> {
    require_linker(&member)?;
    let (nextkt, _) = clients(&state)?;
    let row = find(&state, &member.company_id)
        .await?
        .filter(|r| r.status == "linked")
        .ok_or_else(not_linked)?;
    let key = nextkt.new_key(&row.nextkt_org_id).await?;
    let row = store(
        &state,
        &member.company_id,
        &row.nextkt_org_id,
        Some((&key.id, &key.secret)),
        &format!("user:{}", member.user_id),
    )
    .await?;
    Ok(ApiJson(row.into()))
}

/// Unlinks: the organization's key is revoked in Nextkt and forgotten here. The
/// organization stays in Nextkt (its events, orders and tickets with it); linking again
/// finds it.
#[utoipa::path(delete, path = "/ticketing/link", tag = "ticketing",
    params(("x-org" = String, Header)),
    responses((status = 200, body = TicketingLink), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn unlink(
    State(state): State<AppState>,
    member: Member,
) -> ApiResult<ApiJson<TicketingLink>> {
    require_linker(&member)?;
    let (nextkt, _) = clients(&state)?;
    let row = find(&state, &member.company_id)
        .await?
        .filter(|r| r.status == "linked")
        .ok_or_else(not_linked)?;
    if let Some(key) = &row.api_key_id {
        nextkt.revoke_key(&row.nextkt_org_id, key).await?;
    }
    let row = store(
        &state,
        &member.company_id,
        &row.nextkt_org_id,
        None,
        &format!("user:{}", member.user_id),
    )
    .await?;
    Ok(ApiJson(row.into()))
}
