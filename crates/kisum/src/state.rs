//! What every handler may reach: the database, settings, clock, the catalog (fixed by
//! migrations, so read once at start) and the metrics handle.

use std::sync::Arc;

use axum::extract::FromRef;
use metrics_exporter_prometheus::PrometheusHandle;
use service::client_ip::TrustForwardedFor;
use service::ratelimit::AuthLimits;

use crate::auth::access::AccessCache;
use crate::auth::keys::KeyRing;
use crate::core::catalog::Catalog;
use crate::platform::clock::SharedClock;
use crate::platform::config::ServeConfig;
use crate::platform::db::Db;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<ServeConfig>,
    pub clock: SharedClock,
    pub catalog: Arc<Catalog>,
    pub metrics: PrometheusHandle,
    pub keys: Arc<KeyRing>,
    pub access_cache: Arc<AccessCache>,
    pub auth_limits: Arc<AuthLimits>,
    /// Nextkt's partner API, when configured (Mode A).
    pub nextkt: Option<Arc<crate::ticketing::nextkt::Nextkt>>,
    /// Seals secrets at rest (`KISUM_SECRETS_KEY`).
    pub sealer: Option<Arc<crate::ticketing::sealing::Sealer>>,
}

impl FromRef<AppState> for TrustForwardedFor {
    fn from_ref(state: &AppState) -> Self {
        TrustForwardedFor(state.config.trust_forwarded_for)
    }
}
