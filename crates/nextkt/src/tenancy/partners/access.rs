//! A request authenticated with a partner key.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::store;
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::secrets::{prefix, token_hash};
use crate::state::AppState;
use crate::tenancy::access::{Actor, ActorKind, bearer, invalid_credentials, missing_credentials};

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
        let (partner_id, partner_name) = store::find_by_key_hash(&state.db, &token_hash(token))
            .await?
            .ok_or_else(invalid_credentials)?;
        Ok(PartnerAccess {
            partner_id,
            partner_name,
        })
    }
}
