//! The commercial catalog: modules (base or addon), packages (a persona's base bundle) and
//! addon products. Seeded by migration and only changed by migrations, so the server reads
//! it once at start and answers from memory.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::db::Db;
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::internal_key::InternalCaller;
use crate::platform::json::ApiJson;
use crate::platform::query::ApiQuery;
use crate::state::AppState;

pub const AUDIENCES: [&str; 4] = ["promoter", "venue", "artist", "vendor"];

#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Module {
    pub key: String,
    pub name: String,
    /// `base` (a persona) or `addon`.
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    pub key: String,
    pub name: String,
    /// The persona the package is for: `promoter`, `venue`, `artist` or `vendor`.
    pub audience: String,
    pub base_module: String,
    pub trial_enabled: bool,
    pub trial_days: i64,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Addon {
    pub key: String,
    pub name: String,
    pub module: String,
    /// The personas whose base subscription this addon may attach to.
    pub audiences: Vec<String>,
    pub trial_enabled: bool,
    pub trial_days: i64,
}

impl Addon {
    pub fn accepts(&self, audience: &str) -> bool {
        self.audiences.iter().any(|a| a == audience)
    }
}

/// A permission of the catalog, `<module>.<resource>.<action>`.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    pub key: String,
    pub module: String,
    pub description: String,
}

#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub modules: Vec<Module>,
    pub packages: Vec<Package>,
    pub addons: Vec<Addon>,
    pub permissions: Vec<Permission>,
}

impl Catalog {
    pub async fn load(db: &Db) -> anyhow::Result<Catalog> {
        let modules = sqlx::query_as::<_, (String, String, String, String)>(
            "SELECT key, name, kind, description FROM modules ORDER BY sort_order, key",
        )
        .fetch_all(&db.pool)
        .await?
        .into_iter()
        .map(|(key, name, kind, description)| Module {
            key,
            name,
            kind,
            description,
        })
        .collect();
        let packages = sqlx::query_as::<_, (String, String, String, String, i64, i64)>(
            "SELECT key, name, audience, base_module, trial_enabled, trial_days FROM packages \
             WHERE active = 1 ORDER BY sort_order, key",
        )
        .fetch_all(&db.pool)
        .await?
        .into_iter()
        .map(
            |(key, name, audience, base_module, trial_enabled, trial_days)| Package {
                key,
                name,
                audience,
                base_module,
                trial_enabled: trial_enabled != 0,
                trial_days,
            },
        )
        .collect();
        let mut addons = Vec::new();
        for (key, name, module, audiences_json, trial_enabled, trial_days) in
            sqlx::query_as::<_, (String, String, String, String, i64, i64)>(
                "SELECT key, name, module, audiences_json, trial_enabled, trial_days FROM addons \
                 WHERE active = 1 ORDER BY sort_order, key",
            )
            .fetch_all(&db.pool)
            .await?
        {
            addons.push(Addon {
                key,
                name,
                module,
                audiences: serde_json::from_str(&audiences_json)?,
                trial_enabled: trial_enabled != 0,
                trial_days,
            });
        }
        let permissions = sqlx::query_as::<_, (String, String, String)>(
            "SELECT key, module, description FROM permissions ORDER BY module, key",
        )
        .fetch_all(&db.pool)
        .await?
        .into_iter()
        .map(|(key, module, description)| Permission {
            key,
            module,
            description,
        })
        .collect();
        Ok(Catalog {
            modules,
            packages,
            addons,
            permissions,
        })
    }

    pub fn package(&self, key: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.key == key)
    }

    pub fn addon(&self, key: &str) -> Option<&Addon> {
        self.addons.iter().find(|a| a.key == key)
    }

    pub fn module(&self, key: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.key == key)
    }

    pub fn permission(&self, key: &str) -> Option<&Permission> {
        self.permissions.iter().find(|p| p.key == key)
    }

    /// The permissions inside `modules`.
    pub fn permissions_of<'a>(
        &'a self,
        modules: &'a [String],
    ) -> impl Iterator<Item = &'a Permission> + 'a {
        self.permissions
            .iter()
            .filter(move |p| modules.contains(&p.module))
    }
}

/// Checks an `audience` filter.
fn audience(value: Option<&str>) -> ApiResult<Option<&str>> {
    match value {
        None | Some("") => Ok(None),
        Some(a) if AUDIENCES.contains(&a) => Ok(Some(a)),
        Some(_) => Err(ApiError::invalid(
            "audience",
            format!("audience must be one of {}", AUDIENCES.join(", ")),
        )),
    }
}

#[derive(Serialize, ToSchema)]
pub struct ModuleList {
    pub modules: Vec<Module>,
}

#[derive(Serialize, ToSchema)]
pub struct PackageList {
    pub packages: Vec<Package>,
}

#[derive(Serialize, ToSchema)]
pub struct AddonList {
    pub addons: Vec<Addon>,
}

#[derive(Serialize, ToSchema)]
pub struct PermissionList {
    pub permissions: Vec<Permission>,
}

/// The permission catalog: every key a membership may be granted.
#[utoipa::path(get, path = "/internal/permissions", tag = "catalog",
    responses((status = 200, body = PermissionList)), security(("internal_key" = [])))]
pub async fn internal_permissions(
    State(state): State<AppState>,
    _caller: InternalCaller,
) -> ApiJson<PermissionList> {
    ApiJson(PermissionList {
        permissions: state.catalog.permissions.clone(),
    })
}

/// Every module, base and addon. Ticketing is not one: it is Nextkt, a separate platform.
#[utoipa::path(get, path = "/internal/modules", tag = "catalog",
    responses((status = 200, body = ModuleList)), security(("internal_key" = [])))]
pub async fn internal_modules(
    State(state): State<AppState>,
    _caller: InternalCaller,
) -> ApiJson<ModuleList> {
    ApiJson(ModuleList {
        modules: state.catalog.modules.clone(),
    })
}

/// Every package on sale.
#[utoipa::path(get, path = "/internal/packages", tag = "catalog",
    responses((status = 200, body = PackageList)), security(("internal_key" = [])))]
pub async fn internal_packages(
    State(state): State<AppState>,
    _caller: InternalCaller,
) -> ApiJson<PackageList> {
    ApiJson(PackageList {
        packages: state.catalog.packages.clone(),
    })
}

/// Every addon product on sale.
#[utoipa::path(get, path = "/internal/addons", tag = "catalog",
    responses((status = 200, body = AddonList)), security(("internal_key" = [])))]
pub async fn internal_addons(
    State(state): State<AppState>,
    _caller: InternalCaller,
) -> ApiJson<AddonList> {
    ApiJson(AddonList {
        addons: state.catalog.addons.clone(),
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PackageFilter {
    /// `promoter`, `venue`, `artist` or `vendor`.
    pub audience: Option<String>,
    /// One package.
    pub key: Option<String>,
}

/// Packages for a pricing page (no credentials; browsers of the configured origins may
/// read it cross-origin).
#[utoipa::path(get, path = "/public/packages", tag = "pricing", params(PackageFilter),
    responses((status = 200, body = PackageList), (status = 400, body = crate::platform::error::Problem)))]
pub async fn public_packages(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<PackageFilter>,
) -> ApiResult<ApiJson<PackageList>> {
    let audience = audience(filter.audience.as_deref())?;
    let packages = state
        .catalog
        .packages
        .iter()
        .filter(|p| audience.is_none_or(|a| p.audience == a))
        .filter(|p| filter.key.as_deref().is_none_or(|k| p.key == k))
        .cloned()
        .collect();
    Ok(ApiJson(PackageList { packages }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AddonFilter {
    /// Only addons that attach to this persona.
    pub audience: Option<String>,
    /// Comma-separated addon keys, e.g. `ai,finance`.
    pub keys: Option<String>,
}

/// Addon products for a pricing page (no credentials).
#[utoipa::path(get, path = "/public/addons", tag = "pricing", params(AddonFilter),
    responses((status = 200, body = AddonList), (status = 400, body = crate::platform::error::Problem)))]
pub async fn public_addons(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<AddonFilter>,
) -> ApiResult<ApiJson<AddonList>> {
    let audience = audience(filter.audience.as_deref())?;
    let keys: Option<Vec<&str>> = filter
        .keys
        .as_deref()
        .filter(|k| !k.is_empty())
        .map(|k| k.split(',').map(str::trim).collect());
    let addons = state
        .catalog
        .addons
        .iter()
        .filter(|a| audience.is_none_or(|aud| a.accepts(aud)))
        .filter(|a| keys.as_ref().is_none_or(|ks| ks.contains(&a.key.as_str())))
        .cloned()
        .collect();
    Ok(ApiJson(AddonList { addons }))
}
