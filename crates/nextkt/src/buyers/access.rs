//! Who may call `/consumer/*`, and for which organization.
//!
//! A storefront backend proves itself with either the platform's internal key
//! (`X-Internal-API-Key`, naming the organization in `x-tenant`) or one organization's
//! storefront key (`Authorization: Bearer nkt_sf_...`, or `X-Storefront-Key` when the
//! Authorization header carries a buyer token). A logged-in buyer's token rides along as
//! `Authorization: Bearer nkt_ba_...` or `X-Buyer-Token`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::ids::BuyerId;
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::secrets::{prefix, token_hash};
use crate::platform::sessions::{self, Subject};
use crate::state::AppState;
use crate::tenancy::access::{bearer, invalid_credentials, missing_credentials};
use crate::tenancy::api_keys;
use crate::tenancy::organizations::{self, OrganizationRow};

pub const INTERNAL_KEY_HEADER: &str = "x-internal-api-key";
pub const TENANT_HEADER: &str = "x-tenant";
pub const STOREFRONT_KEY_HEADER: &str = "x-storefront-key";
pub const BUYER_TOKEN_HEADER: &str = "x-buyer-token";

/// Which storefront credential a request came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// The platform's internal key (a partner's storefront backend).
    Internal,
    /// A live storefront key (`nkt_sf_live_`).
    Live,
    /// A test storefront key (`nkt_sf_test_`): its orders are test orders.
    Test,
}

/// A storefront acting for one organization.
pub struct StorefrontAccess {
    pub org: OrganizationRow,
    pub key_mode: KeyMode,
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn is_storefront_key(token: &str) -> bool {
    token.starts_with(prefix::STOREFRONT_LIVE) || token.starts_with(prefix::STOREFRONT_TEST)
}

impl FromRequestParts<AppState> for StorefrontAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        if let Some(presented) = header(parts, INTERNAL_KEY_HEADER) {
            // Compare hashes, so the comparison time says nothing about the key.
            let valid = state
                .config
                .internal_api_key
                .as_deref()
                .is_some_and(|key| token_hash(key) == token_hash(presented));
            if !valid {
                return Err(invalid_credentials());
            }
            let tenant = header(parts, TENANT_HEADER)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "tenant_required",
                        "name the organization in the x-tenant header",
                    )
                })?;
            let org = organizations::require_active(&state.db, tenant).await?;
            return Ok(StorefrontAccess {
                org,
                key_mode: KeyMode::Internal,
            });
        }
        let key = bearer(parts)
            .filter(|t| is_storefront_key(t))
            .or_else(|| header(parts, STOREFRONT_KEY_HEADER))
            .ok_or_else(missing_credentials)?;
        if !is_storefront_key(key) {
            return Err(invalid_credentials());
        }
        let now = state.clock.now_ms();
        let cache_key = format!("key:{}", token_hash(key));
        let org = match state.credential_cache.get(&cache_key, now) {
            Some(org) => org,
            None => {
                let (key, org) = api_keys::authenticate(state, key, "storefront", now).await?;
                state
                    .credential_cache
                    .put(cache_key, org.clone(), key.expires_at);
                org
            }
        };
        if let Some(tenant) = header(parts, TENANT_HEADER)
            && tenant != org.id
        {
            // A storefront key speaks for its own organization only.
            return Err(ApiError::not_found("organization"));
        }
        let key_mode = if key.starts_with(prefix::STOREFRONT_TEST) {
            KeyMode::Test
        } else {
            KeyMode::Live
        };
        Ok(StorefrontAccess { org, key_mode })
    }
}

/// A logged-in buyer of the storefront's organization.
pub struct BuyerAccess {
    pub org: OrganizationRow,
    pub key_mode: KeyMode,
    pub buyer_id: BuyerId,
    pub family_id: String,
}

impl FromRequestParts<AppState> for BuyerAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let storefront = StorefrontAccess::from_request_parts(parts, state).await?;
        let token = bearer(parts)
            .filter(|t| t.starts_with(prefix::BUYER_ACCESS))
            .or_else(|| header(parts, BUYER_TOKEN_HEADER))
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "buyer_login_required",
                    "log in as a buyer and send the buyer's access token",
                )
            })?;
        let session =
            sessions::authenticate(&state.db, Subject::Buyer, token, state.clock.now_ms()).await?;
        if session.organization_id.as_deref() != Some(storefront.org.id.as_str()) {
            return Err(invalid_credentials());
        }
        Ok(BuyerAccess {
            org: storefront.org,
            key_mode: storefront.key_mode,
            buyer_id: BuyerId::from(session.subject_id),
            family_id: session.family_id,
        })
    }
}

/// The storefront, and the buyer when a buyer token rides along (a bad token is refused,
/// never treated as anonymous).
pub struct MaybeBuyer {
    pub org: OrganizationRow,
    pub key_mode: KeyMode,
    pub buyer_id: Option<BuyerId>,
}

impl FromRequestParts<AppState> for MaybeBuyer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let has_buyer = bearer(parts).is_some_and(|t| t.starts_with(prefix::BUYER_ACCESS))
            || parts.headers.contains_key(BUYER_TOKEN_HEADER);
        if has_buyer {
            let buyer = BuyerAccess::from_request_parts(parts, state).await?;
            return Ok(MaybeBuyer {
                org: buyer.org,
                key_mode: buyer.key_mode,
                buyer_id: Some(buyer.buyer_id),
            });
        }
        let storefront = StorefrontAccess::from_request_parts(parts, state).await?;
        Ok(MaybeBuyer {
            org: storefront.org,
            key_mode: storefront.key_mode,
            buyer_id: None,
        })
    }
}
