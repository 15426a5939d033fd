//! Self-serve signup: a user, their company (with them as `TENANT_SUPERADMIN`), the chosen
//! package and addons as trial rows, all in one transaction. Paid checkout is not built
//! yet, so a package or addon without a trial answers 422 `payment_required`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use service::client_ip::ClientIp;
use service::secrets::hash_password;
use utoipa::ToSchema;

use super::members;
use super::roles::Role;
use super::sessions;
use super::users::{self, NewUser};
use crate::core::companies::{self, DEFAULT_CURRENCY, NewCompany};
use crate::core::subscriptions::service::{
    self as subscriptions, Origin, SetAddon, SetSubscription,
};
use crate::ids::{CompanyId, UserId};
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::validate;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Signup {
    pub email: String,
    pub password: String,
    pub name: String,
    pub company_name: String,
    /// A package key, e.g. `basic_promoter`.
    pub package: String,
    /// Addon keys, e.g. `["finance"]`.
    #[serde(default)]
    pub addons: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignedUp {
    pub user_id: String,
    pub company_id: String,
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
}

fn payment_required(what: &str) -> ApiError {
    ApiError::rule(
        "payment_required",
        format!("{what} has no free trial; it needs a paid checkout"),
    )
}

/// Signs up: creates the user, the company, its trial package and addons, and logs in. The
/// user is the company's superadmin, granted every module the company now owns.
#[utoipa::path(post, path = "/auth/signup", tag = "auth", request_body = Signup,
    responses(
        (status = 201, body = SignedUp),
        (status = 400, body = Problem),
        (status = 409, description = "`email_taken`", body = Problem),
        (status = 422, description = "`payment_required`, `unknown_package`, `addon_not_available`", body = Problem),
        (status = 429, body = Problem),
    ))]
pub async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Signup>,
) -> ApiResult<(StatusCode, ApiJson<SignedUp>)> {
    state.auth_limits.check(ip, None)?;
    let email = validate::email("email", &body.email)?;
    validate::password("password", &body.password)?;
    let name = validate::text("name", &body.name, 200)?;
    let company_name = validate::text("companyName", &body.company_name, 200)?;
    let package = state.catalog.package(&body.package).ok_or_else(|| {
        ApiError::rule("unknown_package", format!("no package {:?}", body.package))
    })?;
    if !package.trial_enabled {
        return Err(payment_required(&package.key));
    }
    let mut addons = body.addons.clone();
    addons.sort();
    addons.dedup();
    for key in &addons {
        let addon = state
            .catalog
            .addon(key)
            .ok_or_else(|| ApiError::rule("unknown_addon", format!("no addon {key:?}")))?;
        if !addon.accepts(&package.audience) {
            return Err(ApiError::rule(
                "addon_not_available",
                format!(
                    "the {key} addon does not attach to the {} persona",
                    package.audience
                ),
            ));
        }
        if !addon.trial_enabled {
            return Err(payment_required(key));
        }
    }
    let password_hash = hash_password(body.password.clone()).await?;
    let now = state.clock.now_ms();
    let user = UserId::generate();
    let company = CompanyId::generate();
    let origin = Origin {
        actor: format!("user:{user}"),
        source: "checkout",
    };
    let mut tx = state.db.begin().await?;
    users::insert(
        &mut tx,
        NewUser {
            id: &user,
            email: &email,
            name: &name,
            password_hash: &password_hash,
        },
        now,
    )
    .await?;
    companies::insert(
        &mut tx,
        NewCompany {
            id: &company,
            name: &company_name,
            currency: DEFAULT_CURRENCY,
            source: "checkout",
        },
        now,
    )
    .await?;
    let mut snapshot = subscriptions::set_subscription(
        &state,
        &mut tx,
        &company,
        &SetSubscription {
            package: package.key.clone(),
            status: "trial".into(),
            trial_ends_at: None,
            switch: false,
            actor: None,
            source: None,
        },
        &origin,
    )
    .await?;
    for key in &addons {
        snapshot = subscriptions::set_addon(
            &state,
            &mut tx,
            &company,
            key,
            &SetAddon {
                status: "trial".into(),
                trial_ends_at: None,
                actor: None,
                source: None,
            },
            &origin,
        )
        .await?;
    }
    let membership = members::insert(&mut tx, &user, &company, Role::TenantSuperadmin, now).await?;
    let modules = snapshot.enabled_modules.clone();
    let permissions: Vec<String> = state
        .catalog
        .permissions_of(&modules)
        .map(|p| p.key.clone())
        .collect();
    members::set_grants(&mut tx, &membership, &modules, &permissions, now).await?;
    let pair = sessions::issue(&state, &mut tx, &user, 1, None, now).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(SignedUp {
            user_id: user.to_string(),
            company_id: company.to_string(),
            access_token: pair.access_token,
            refresh_token: pair.refresh_token,
            expires_in: pair.expires_in,
        }),
    ))
}
