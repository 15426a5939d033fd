//! Effective access and the one enforcement chain of every module route:
//! JWT verified locally → `x-org` → effective access (company entitlements ∩ membership
//! grants) → module required → permission required.
//!
//! Effective access is cached per (user, company), stamped with the three versions that
//! prove it current: the user's `tokenVersion`, the membership's `accessVersion` and the
//! company's `entitlementVersion`. Every request reads those three versions from the
//! database in one indexed query (so a change committed by any process is honoured by the
//! next request everywhere: no time-based staleness) and rebuilds the entry when any differs
//! or when the clock has passed the moment the entitlements change by themselves (a trial
//! ending). If the versions cannot be read or the entry cannot be rebuilt, the request is
//! refused (503 `access_unavailable`), never allowed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::roles::Role;
use super::sessions::{self, bearer, unauthorized};
use crate::core::catalog::Catalog;
use crate::core::entitlements::{self, DAY_MS};
use crate::ids::{CompanyId, UserId};
use crate::platform::clock::{Millis, parse_rfc3339, rfc3339};
use crate::platform::config::Switch;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::ids::is_valid_external_id;
use crate::platform::json::ApiJson;
use crate::state::AppState;

pub const X_ORG: &str = "x-org";

#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delegation {
    pub can_manage_users: bool,
    pub can_buy_addons: bool,
    pub grantable_modules: Vec<String>,
    pub grantable_permissions: Vec<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessMeta {
    pub token_version: i64,
    pub access_version: i64,
    pub entitlement_version: i64,
    pub generated_at: String,
}

/// A member's effective access in one company.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EffectiveAccess {
    #[schema(value_type = String)]
    pub user_id: UserId,
    #[schema(value_type = String)]
    pub company_id: CompanyId,
    pub tenant_role: Role,
    /// Modules the company owns and the membership was granted.
    pub modules: Vec<String>,
    /// Granted permissions inside those modules.
    pub permissions: Vec<String>,
    pub delegation: Delegation,
    pub meta: AccessMeta,
    /// What the company owns (whether or not this member was granted it).
    #[serde(skip)]
    pub company_modules: Vec<String>,
    #[serde(skip)]
    pub membership_id: String,
    /// The entitlements change by the clock alone at this moment (a trial ending).
    #[serde(skip)]
    pub valid_until: Option<Millis>,
}

impl EffectiveAccess {
    pub fn has_module(&self, module: &str) -> bool {
        self.modules.iter().any(|m| m == module)
    }

    pub fn has_permission(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }

    /// 403 unless the company owns `module` and the membership was granted it.
    pub fn require_module(&self, module: &str) -> ApiResult<()> {
        if !self.company_modules.iter().any(|m| m == module) {
            return Err(ApiError::forbidden_code(
                module_required_code(module),
                format!("the company does not have the {module} module"),
            ));
        }
        if !self.has_module(module) {
            return Err(ApiError::forbidden_code(
                "module_not_granted",
                format!("your membership was not granted the {module} module"),
            ));
        }
        Ok(())
    }

    /// 403 `permission_denied` unless the membership holds `permission` (its module
    /// included).
    pub fn require(&self, permission: &str) -> ApiResult<()> {
        let module = permission.split('.').next().unwrap_or_default();
        self.require_module(module)?;
        if self.has_permission(permission) {
            Ok(())
        } else {
            Err(ApiError::forbidden_code(
                "permission_denied",
                format!("this needs the {permission} permission"),
            ))
        }
    }
}

/// The stable code of "the company lacks this module".
pub fn module_required_code(module: &str) -> &'static str {
    match module {
        "finance" => "finance_addon_required",
        "ai" => "ai_addon_required",
        "touring" => "touring_addon_required",
        "venue_marketplace" => "venue_marketplace_addon_required",
        "promoter" => "promoter_module_required",
        "venue" => "venue_module_required",
        "artist" => "artist_module_required",
        "vendor" => "vendor_module_required",
        _ => "module_required",
    }
}

fn unavailable(err: impl std::fmt::Display) -> ApiError {
    tracing::warn!(error = %err, "effective access could not be resolved");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "access_unavailable",
        "access cannot be checked right now; try again",
    )
}

/// The versions that prove a cached entry current, read per request.
#[derive(Debug, sqlx::FromRow)]
struct Probe {
    token_version: i64,
    membership_id: Option<String>,
    role: Option<String>,
    access_version: Option<i64>,
    entitlement_version: Option<i64>,
}

/// Cached effective access per (user, company); each entry carries its versions.
#[derive(Default)]
pub struct AccessCache {
    entries: Mutex<HashMap<(UserId, CompanyId), Arc<EffectiveAccess>>>,
}

/// Entries kept at most; past it the cache starts again (rebuilding is always safe).
const CACHE_LIMIT: usize = 200_000;

impl AccessCache {
    fn get(&self, user: &UserId, company: &CompanyId) -> Option<Arc<EffectiveAccess>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(&(user.clone(), company.clone())).cloned()
    }

    fn put(&self, access: Arc<EffectiveAccess>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CACHE_LIMIT {
            entries.clear();
        }
        entries.insert((access.user_id.clone(), access.company_id.clone()), access);
    }
}

/// The effective access of `user` (whose token carries `token_version`) in `company`.
pub async fn resolve(
    state: &AppState,
    user: &UserId,
    token_version: i64,
    company: &CompanyId,
) -> ApiResult<Arc<EffectiveAccess>> {
    let now = state.clock.now_ms();
    let mut conn = state.db.pool.acquire().await.map_err(unavailable)?;
    let probe: Option<Probe> = sqlx::query_as(
        "SELECT u.token_version, m.id AS membership_id, m.role, m.access_version, \
         v.version AS entitlement_version \
         FROM users u \
         LEFT JOIN memberships m ON m.user_id = u.id AND m.company_id = $2 \
         LEFT JOIN company_entitlement_versions v ON v.company_id = $2 \
         WHERE u.id = $1",
    )
    .bind(user.as_str())
    .bind(company.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(unavailable)?;
    let probe = probe.ok_or_else(unauthorized)?;
    if probe.token_version != token_version {
        return Err(ApiError::unauthorized(
            "session_revoked",
            "this session has ended; log in again",
        ));
    }
    let (Some(membership_id), Some(role), Some(access_version)) =
        (probe.membership_id, probe.role, probe.access_version)
    else {
        return Err(ApiError::forbidden_code(
            "not_a_member",
            "you are not a member of this company",
        ));
    };
    let entitlement_version = probe.entitlement_version.unwrap_or(0);
    let cached = (state.config.access_cache == Switch::On)
        .then(|| state.access_cache.get(user, company))
        .flatten();
    if let Some(entry) = cached
        && entry.meta.token_version == token_version
        && entry.meta.access_version == access_version
        && entry.meta.entitlement_version == entitlement_version
        && entry.membership_id == membership_id
        && entry.valid_until.is_none_or(|until| now < until)
    {
        metrics::counter!("kisum_access_cache_total", "result" => "hit").increment(1);
        return Ok(entry);
    }
    metrics::counter!("kisum_access_cache_total", "result" => "miss").increment(1);
    let role = Role::parse(&role).ok_or_else(|| unavailable("unknown role"))?;
    let snapshot = entitlements::snapshot(
        &mut conn,
        &state.catalog,
        company,
        now,
        state.config.grace_days * DAY_MS,
    )
    .await
    .map_err(unavailable)?;
    let granted_modules: Vec<String> =
        sqlx::query_scalar("SELECT module FROM membership_modules WHERE membership_id = $1")
            .bind(&membership_id)
            .fetch_all(&mut *conn)
            .await
            .map_err(unavailable)?;
    let granted_permissions: Vec<String> = sqlx::query_scalar(
        "SELECT permission FROM membership_permissions WHERE membership_id = $1",
    )
    .bind(&membership_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(unavailable)?;
    let access = compute(
        &state.catalog,
        Grants {
            user: user.clone(),
            company: company.clone(),
            membership_id,
            role,
            modules: granted_modules,
            permissions: granted_permissions,
        },
        snapshot.enabled_modules,
        AccessMeta {
            token_version,
            access_version,
            entitlement_version: snapshot.entitlement_version,
            generated_at: rfc3339(now),
        },
        snapshot.changes_at.as_deref().and_then(parse_rfc3339),
    );
    let access = Arc::new(access);
    // Stamped with the versions read by the snapshot itself; if a change landed between
    // the probe and the snapshot, the next probe sees a newer version and rebuilds.
    if state.config.access_cache == Switch::On
        && access.meta.entitlement_version == entitlement_version
    {
        state.access_cache.put(access.clone());
    }
    Ok(access)
}

/// What a membership was granted.
pub struct Grants {
    pub user: UserId,
    pub company: CompanyId,
    pub membership_id: String,
    pub role: Role,
    pub modules: Vec<String>,
    pub permissions: Vec<String>,
}

/// The rule: modules = owned ∩ granted; permissions = granted ones inside those modules;
/// delegation bounded by the role and by what the grantor holds.
pub fn compute(
    catalog: &Catalog,
    grants: Grants,
    company_modules: Vec<String>,
    meta: AccessMeta,
    valid_until: Option<Millis>,
) -> EffectiveAccess {
    let modules: Vec<String> = company_modules
        .iter()
        .filter(|m| grants.modules.contains(m))
        .cloned()
        .collect();
    let mut permissions: Vec<String> = grants
        .permissions
        .iter()
        .filter(|p| {
            catalog
                .permission(p)
                .is_some_and(|perm| modules.contains(&perm.module))
        })
        .cloned()
        .collect();
    permissions.sort();
    let role = grants.role;
    let (grantable_modules, grantable_permissions) = match role {
        Role::TenantSuperadmin => (
            company_modules.clone(),
            catalog
                .permissions_of(&company_modules)
                .map(|p| p.key.clone())
                .collect(),
        ),
        Role::Admin => (modules.clone(), permissions.clone()),
        Role::Manager => (Vec::new(), permissions.clone()),
        Role::User => (Vec::new(), Vec::new()),
    };
    EffectiveAccess {
        user_id: grants.user,
        company_id: grants.company,
        tenant_role: role,
        modules,
        permissions,
        delegation: Delegation {
            can_manage_users: role.can_manage_users(),
            can_buy_addons: role.can_buy_addons(),
            grantable_modules,
            grantable_permissions,
        },
        meta,
        company_modules,
        membership_id: grants.membership_id,
        valid_until,
    }
}

/// The `x-org` header: the only way to choose the company.
pub fn company_of(parts: &Parts) -> ApiResult<CompanyId> {
    parts
        .headers
        .get(X_ORG)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| is_valid_external_id(v))
        .map(CompanyId::from)
        .ok_or_else(|| {
            ApiError::bad_request("x_org_required", "send the company id in the x-org header")
        })
}

/// A member of the `x-org` company, with effective access resolved.
#[derive(Clone)]
pub struct Member(pub Arc<EffectiveAccess>);

impl std::ops::Deref for Member {
    type Target = EffectiveAccess;
    fn deref(&self) -> &EffectiveAccess {
        &self.0
    }
}

impl FromRequestParts<AppState> for Member {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        if let Some(member) = parts.extensions.get::<Member>() {
            return Ok(member.clone());
        }
        let token = bearer(parts).ok_or_else(unauthorized)?;
        let claims = sessions::verify(state, token, state.clock.now_ms()).await?;
        let company = company_of(parts)?;
        let access = resolve(
            state,
            &UserId::from(claims.sub.as_str()),
            claims.tv,
            &company,
        )
        .await?;
        let member = Member(access);
        parts.extensions.insert(member.clone());
        Ok(member)
    }
}

/// Route layer of a module's routes: the chain up to "module required", once, for every
/// route of the module; handlers then check their permission on the `Member` it leaves.
pub async fn require_module(
    State((state, module)): State<(AppState, &'static str)>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let member = match Member::from_request_parts(&mut parts, &state).await {
        Ok(member) => member,
        Err(err) => return err.into_response(),
    };
    if let Err(err) = member.require_module(module) {
        return err.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The caller's effective access in the `x-org` company: modules, permissions, what they
/// may delegate, and the versions it was computed at.
#[utoipa::path(get, path = "/auth/me/access", tag = "auth",
    params(("x-org" = String, Header, description = "The company id")),
    responses(
        (status = 200, body = EffectiveAccess),
        (status = 400, description = "`x_org_required`", body = Problem),
        (status = 401, description = "`unauthorized`, `token_expired`, `session_revoked`", body = Problem),
        (status = 403, description = "`not_a_member`", body = Problem),
        (status = 503, description = "`access_unavailable`", body = Problem),
    ),
    security(("bearer" = [])))]
pub async fn me_access(member: Member) -> ApiJson<EffectiveAccess> {
    ApiJson(member.0.as_ref().clone())
}
