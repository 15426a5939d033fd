//! Organization keys. `admin` keys use the operator API exactly like an operator of their
//! role; `storefront` keys open the organization's own consumer API. Secrets are random,
//! shown once and stored as hashes; a visible prefix tells keys apart. Live and test keys
//! are kept apart by prefix and mode.
//!
//! `handlers` parses and authorizes, `service` holds the rules and the transaction, `store`
//! the SQL.

mod handlers;
mod service;
pub(super) mod store;

use serde::Serialize;
use utoipa::ToSchema;

use super::access::Mode;
use super::roles::Role;
use crate::platform::clock::{Millis, opt_rfc3339, rfc3339};
use crate::platform::secrets::prefix;

// A glob, so the `__path_*` items `#[utoipa::path]` generates beside each handler come
// along: the router's `routes!(api_keys::create_api_key)` needs them here.
pub use handlers::*;
pub use service::{NewKey, authenticate, create_in, revoke_in};
pub use store::KeyRow;

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
