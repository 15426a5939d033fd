//! Organization keys. `admin` keys use the operator API exactly like an operator of their
//! role; `storefront` keys open the organization's own consumer API. Secrets are random,
//! shown once and stored as hashes; a visible prefix tells keys apart. Live and test keys
//! are kept apart by prefix and mode.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::access::{Actor, AdminAccess, Mode, invalid_credentials, suspended};
use super::audit::{self, Change};
use super::organizations::OrganizationRow;
use super::roles::{Permission, Role};
use crate::platform::clock::{Millis, opt_rfc3339, parse_rfc3339, rfc3339};
use crate::platform::db::Tx;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::platform::secrets::{new_token, prefix, token_hash, visible_prefix};
use crate::platform::validate;
use crate::state::AppState;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Admin,
    Storefront,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Admin => "admin",
            KeyKind::Storefront => "storefront",
        }
    }

    fn token_prefix(self, mode: Mode) -> &'static str {
        match (self, mode) {
            (KeyKind::Admin, Mode::Live) => prefix::API_KEY_LIVE,
            (KeyKind::Admin, Mode::Test) => prefix::API_KEY_TEST,
            (KeyKind::Storefront, Mode::Live) => prefix::STOREFRONT_LIVE,
            (KeyKind::Storefront, Mode::Test) => prefix::STOREFRONT_TEST,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            KeyKind::Admin => "API key",
            KeyKind::Storefront => "storefront key",
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct KeyRow {
    pub id: String,
    pub organization_id: String,
    pub kind: String,
    pub mode: String,
    pub name: String,
    pub prefix: String,
    pub role: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const KEY_COLUMNS: &str = "k.id, k.organization_id, k.kind, k.mode, k.name, k.prefix, k.role, \
                           k.created_at, k.expires_at, k.last_used_at, k.revoked_at";

/// Last-used times are written at most this often per key, so that using a key is not a
/// write on every request.
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

/// Resolves a presented key of `kind` with its organization, in one query: 401 when the
/// key is unknown, revoked or expired, 403 when its organization is suspended.
pub async fn authenticate(
    state: &AppState,
    secret: &str,
    kind: &str,
    now: Millis,
) -> ApiResult<(KeyRow, OrganizationRow)> {
    #[derive(sqlx::FromRow)]
    struct Found {
        #[sqlx(flatten)]
        key: KeyRow,
        org_name: String,
        org_currency: String,
        org_timezone: String,
        org_locale: String,
        org_support_email: Option<String>,
        org_website: Option<String>,
        org_partner_id: Option<String>,
        org_external_ref: Option<String>,
        org_created_at: i64,
        org_updated_at: i64,
        org_suspended_at: Option<i64>,
        org_fee_json: Option<String>,
        org_tax_bps: i64,
    }
    let found: Option<Found> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {KEY_COLUMNS}, o.name AS org_name, o.currency AS org_currency, \
         o.timezone AS org_timezone, o.locale AS org_locale, o.support_email AS org_support_email, \
         o.website AS org_website, o.partner_id AS org_partner_id, o.external_ref AS org_external_ref, \
         o.created_at AS org_created_at, o.updated_at AS org_updated_at, \
         o.suspended_at AS org_suspended_at, o.fee_json AS org_fee_json, o.tax_bps AS org_tax_bps \
         FROM api_keys k JOIN organizations o ON o.id = k.organization_id WHERE k.secret_hash = $1"
    )))
    .bind(token_hash(secret))
    .fetch_optional(&state.db.pool)
    .await?;
    let Some(found) = found else {
        return Err(invalid_credentials());
    };
    let key = found.key;
    if key.kind != kind || key.revoked_at.is_some() {
        return Err(invalid_credentials());
    }
    if key.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::unauthorized(
            "credential_expired",
            "the key has expired",
        ));
    }
    if found.org_suspended_at.is_some() {
        return Err(suspended());
    }
    if key
        .last_used_at
        .is_none_or(|at| at + LAST_USED_GRANULARITY_MS <= now)
    {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(key.id.clone())
            .execute(&state.db.pool)
            .await?;
    }
    let org = OrganizationRow {
        id: key.organization_id.clone(),
        name: found.org_name,
        currency: found.org_currency,
        timezone: found.org_timezone,
        locale: found.org_locale,
        support_email: found.org_support_email,
        website: found.org_website,
        partner_id: found.org_partner_id,
        external_ref: found.org_external_ref,
        created_at: found.org_created_at,
        updated_at: found.org_updated_at,
        suspended_at: None,
        fee_json: found.org_fee_json,
        tax_bps: found.org_tax_bps,
    };
    Ok((key, org))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: String,
    /// `admin` or `storefront`.
    pub kind: String,
    /// `live` or `test`.
    pub mode: String,
    pub name: String,
    /// The first characters of the secret, to tell keys apart.
    pub prefix: String,
    /// For admin keys: the role the key acts with.
    pub role: Option<Role>,
    /// `active`, `expired` or `revoked`.
    pub status: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// A newly created key, with its secret: shown this once, never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    pub secret: String,
}

impl KeyRow {
    pub fn to_api(&self, now: Millis) -> ApiKey {
        let status = if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at.is_some_and(|at| at <= now) {
            "expired"
        } else {
            "active"
        };
        ApiKey {
            id: self.id.clone(),
            kind: self.kind.clone(),
            mode: self.mode.clone(),
            name: self.name.clone(),
            prefix: self.prefix.clone(),
            role: self.role.as_deref().and_then(Role::parse),
            status: status.into(),
            created_at: rfc3339(self.created_at),
            expires_at: opt_rfc3339(self.expires_at),
            last_used_at: opt_rfc3339(self.last_used_at),
            revoked_at: opt_rfc3339(self.revoked_at),
        }
    }
}

pub struct NewKey<'a> {
    pub org_id: &'a str,
    pub kind: KeyKind,
    pub mode: Mode,
    pub name: &'a str,
    pub role: Option<Role>,
    pub expires_at: Option<Millis>,
    pub created_by: &'a Actor,
}

/// Creates a key inside the caller's transaction and records it in the audit log.
pub async fn create_in(
    tx: &mut Tx,
    new: NewKey<'_>,
    now: Millis,
) -> Result<CreatedApiKey, sqlx::Error> {
    let token_prefix = new.kind.token_prefix(new.mode);
    let secret = new_token(token_prefix);
    let row = KeyRow {
        id: new_id(),
        organization_id: new.org_id.to_string(),
        kind: new.kind.as_str().to_string(),
        mode: new.mode.as_str().to_string(),
        name: new.name.to_string(),
        prefix: visible_prefix(&secret, token_prefix),
        role: new.role.map(|r| r.as_str().to_string()),
        created_at: now,
        expires_at: new.expires_at,
        last_used_at: None,
        revoked_at: None,
    };
    sqlx::query(
        "INSERT INTO api_keys (id, organization_id, kind, mode, name, prefix, secret_hash, role, \
         created_by_kind, created_by_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(row.id.clone())
    .bind(row.organization_id.clone())
    .bind(row.kind.clone())
    .bind(row.mode.clone())
    .bind(row.name.clone())
    .bind(row.prefix.clone())
    .bind(token_hash(&secret))
    .bind(row.role.clone())
    .bind(new.created_by.kind.as_str())
    .bind(new.created_by.id.clone())
    .bind(now)
    .bind(row.expires_at)
    .execute(&mut **tx)
    .await?;
    let key = row.to_api(now);
    audit::record(
        tx,
        Change {
            org_id: Some(new.org_id),
            actor: new.created_by,
            action: "api_key.created",
            target_kind: "api_key",
            target_id: &row.id,
            before: None,
            after: Some(serde_json::to_value(&key).unwrap_or_default()),
        },
        now,
    )
    .await?;
    Ok(CreatedApiKey { key, secret })
}

/// Revokes a key of the organization; already-revoked keys stay revoked. 404 for a key of
/// another organization or of another kind.
pub async fn revoke_in(
    tx: &mut Tx,
    org_id: &str,
    key_id: &str,
    kind: KeyKind,
    actor: &Actor,
    now: Millis,
) -> ApiResult<()> {
    let updated = sqlx::query(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) \
         WHERE id = $2 AND organization_id = $3 AND kind = $4",
    )
    .bind(now)
    .bind(key_id.to_string())
    .bind(org_id.to_string())
    .bind(kind.as_str())
    .execute(&mut **tx)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(ApiError::not_found(kind.noun()));
    }
    audit::record(
        tx,
        Change {
            org_id: Some(org_id),
            actor,
            action: "api_key.revoked",
            target_kind: "api_key",
            target_id: key_id,
            before: None,
            after: Some(json!({ "revoked": true })),
        },
        now,
    )
    .await?;
    Ok(())
}

pub async fn list_of(
    state: &AppState,
    org_id: &str,
    kind: KeyKind,
    page: &PageParams,
) -> ApiResult<Page<ApiKey>> {
    let page = page.parse()?;
    let rows: Vec<KeyRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.organization_id = $1 AND k.kind = $2 \
         AND ($3 = '' OR k.id < $3) ORDER BY k.id DESC LIMIT $4"
    )))
    .bind(org_id.to_string())
    .bind(kind.as_str())
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&state.db.pool)
    .await?;
    let now = state.clock.now_ms();
    Ok(page.finish(rows, |r| &r.id).map(|r| r.to_api(now)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum KeyMode {
    Live,
    Test,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub name: String,
    /// The role the key acts with. Only an owner may create an owner key.
    pub role: Role,
    /// `live` (default) or `test`.
    pub mode: Option<KeyMode>,
    /// When the key stops working (RFC 3339); never when absent.
    pub expires_at: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStorefrontKey {
    pub name: String,
    pub mode: Option<KeyMode>,
    pub expires_at: Option<String>,
}

fn parse_expiry(value: Option<&str>, now: Millis) -> ApiResult<Option<Millis>> {
    let Some(text) = value else { return Ok(None) };
    let at = parse_rfc3339(text)
        .ok_or_else(|| ApiError::invalid("expires_at", "must be an RFC 3339 time"))?;
    if at <= now {
        return Err(ApiError::invalid("expires_at", "must be in the future"));
    }
    Ok(Some(at))
}

fn mode_of(mode: Option<KeyMode>) -> Mode {
    match mode {
        Some(KeyMode::Test) => Mode::Test,
        _ => Mode::Live,
    }
}

async fn create_for(
    state: &AppState,
    access: &AdminAccess,
    kind: KeyKind,
    name: &str,
    role: Option<Role>,
    mode: Option<KeyMode>,
    expires_at: Option<&str>,
) -> ApiResult<(StatusCode, ApiJson<CreatedApiKey>)> {
    access.require(Permission::ManageKeys)?;
    if role == Some(Role::Owner) && access.role != Role::Owner {
        return Err(ApiError::forbidden("only an owner may create an owner key"));
    }
    let name = validate::text("name", name, 100)?;
    let now = state.clock.now_ms();
    let expires_at = parse_expiry(expires_at, now)?;
    let mut tx = state.db.begin().await?;
    let created = create_in(
        &mut tx,
        NewKey {
            org_id: &access.org_id,
            kind,
            mode: mode_of(mode),
            name: &name,
            role,
            expires_at,
            created_by: &access.actor,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(created)))
}

/// Create an API key for the operator API. The secret is in this answer only.
#[utoipa::path(
    post, path = "/admin/api-keys", tag = "keys",
    request_body = CreateApiKey,
    responses(
        (status = 201, body = CreatedApiKey),
        (status = 400, body = Problem),
        (status = 403, body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn create_api_key(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiJson(body): ApiJson<CreateApiKey>,
) -> ApiResult<(StatusCode, ApiJson<CreatedApiKey>)> {
    create_for(
        &state,
        &access,
        KeyKind::Admin,
        &body.name,
        Some(body.role),
        body.mode,
        body.expires_at.as_deref(),
    )
    .await
}

/// The organization's API keys (never their secrets).
#[utoipa::path(
    get, path = "/admin/api-keys", tag = "keys",
    params(PageParams),
    responses((status = 200, body = Page<ApiKey>)),
    security(("bearer" = []))
)]
pub async fn list_api_keys(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<ApiKey>>> {
    access.require(Permission::ManageKeys)?;
    Ok(ApiJson(
        list_of(&state, &access.org_id, KeyKind::Admin, &page).await?,
    ))
}

/// Revoke an API key; it stops working at once.
#[utoipa::path(
    delete, path = "/admin/api-keys/{key_id}", tag = "keys",
    params(("key_id" = String, Path)),
    responses((status = 204, description = "Revoked"), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(key_id): Path<String>,
) -> ApiResult<StatusCode> {
    revoke_for(&state, &access, &key_id, KeyKind::Admin).await
}

async fn revoke_for(
    state: &AppState,
    access: &AdminAccess,
    key_id: &str,
    kind: KeyKind,
) -> ApiResult<StatusCode> {
    access.require(Permission::ManageKeys)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    revoke_in(&mut tx, &access.org_id, key_id, kind, &access.actor, now).await?;
    tx.commit().await?;
    state.credential_cache.clear();
    Ok(StatusCode::NO_CONTENT)
}

/// Create a storefront key: it opens this organization's consumer API (`/consumer/*`)
/// without the platform's internal key.
#[utoipa::path(
    post, path = "/admin/storefront-keys", tag = "keys",
    request_body = CreateStorefrontKey,
    responses((status = 201, body = CreatedApiKey), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
pub async fn create_storefront_key(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiJson(body): ApiJson<CreateStorefrontKey>,
) -> ApiResult<(StatusCode, ApiJson<CreatedApiKey>)> {
    create_for(
        &state,
        &access,
        KeyKind::Storefront,
        &body.name,
        None,
        body.mode,
        body.expires_at.as_deref(),
    )
    .await
}

/// The organization's storefront keys (never their secrets).
#[utoipa::path(
    get, path = "/admin/storefront-keys", tag = "keys",
    params(PageParams),
    responses((status = 200, body = Page<ApiKey>)),
    security(("bearer" = []))
)]
pub async fn list_storefront_keys(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<ApiKey>>> {
    access.require(Permission::ManageKeys)?;
    Ok(ApiJson(
        list_of(&state, &access.org_id, KeyKind::Storefront, &page).await?,
    ))
}

/// Revoke a storefront key.
#[utoipa::path(
    delete, path = "/admin/storefront-keys/{key_id}", tag = "keys",
    params(("key_id" = String, Path)),
    responses((status = 204, description = "Revoked"), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn revoke_storefront_key(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(key_id): Path<String>,
) -> ApiResult<StatusCode> {
    revoke_for(&state, &access, &key_id, KeyKind::Storefront).await
}
