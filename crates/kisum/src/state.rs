//! What every handler may reach: the database, settings, clock, the catalog (fixed by
//! migrations, so read once at start) and the metrics handle.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

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
}
