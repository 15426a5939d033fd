//! The server's shared state: the database, settings, clock and the long-lived workers and
//! caches that handlers reach through axum's `State`. Defined apart from the router so the
//! contexts that read it never depend on the router.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::buyers::credential_cache::CredentialCache;
use crate::inventory::reserve::Reserver;
use crate::platform::clock::SharedClock;
use crate::platform::config::ServeConfig;
use crate::platform::db::Db;
use crate::platform::ratelimit::AuthLimits;
use crate::platform::sessions::Lifetimes;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<ServeConfig>,
    pub clock: SharedClock,
    pub auth_limits: Arc<AuthLimits>,
    pub metrics: PrometheusHandle,
    pub reserver: Arc<Reserver>,
    pub scan_writer: Arc<crate::gate::writer::ScanWriter>,
    pub signing_keys: Arc<crate::tickets::signing::KeyCache>,
    pub bundles: Arc<crate::gate::bundle::BundleCache>,
    pub credential_cache: Arc<CredentialCache>,
    pub device_cache: Arc<CredentialCache<crate::gate::devices::GateDevice>>,
    /// Where this server is reached (configured, or from the bound address).
    pub base_url: Arc<str>,
    /// Outgoing HTTP: payment providers, the simulated provider's callbacks.
    pub http: reqwest::Client,
    /// Kisum's internal API (venues, artists), when configured.
    pub kisum: Option<Arc<crate::kisum::KisumClient>>,
}

impl AppState {
    pub fn lifetimes(&self) -> Lifetimes {
        Lifetimes {
            access_secs: self.config.access_token_ttl_secs,
            refresh_secs: self.config.refresh_token_ttl_secs,
        }
    }
}

impl axum::extract::FromRef<AppState> for service::client_ip::TrustForwardedFor {
    fn from_ref(state: &AppState) -> Self {
        Self(state.config.trust_forwarded_for)
    }
}
