//! Plumbing shared by the workspace's HTTP services, free of any one service's domain:
//! problem+json errors and extractors, the database (SQLite or PostgreSQL), idempotency,
//! pagination, request ids, metrics, time, secrets and passwords, validation, rate limits,
//! the offline `/docs` page, (feature `mail`) the email outbox and its delivery worker, and
//! (feature `testkit`) what integration tests share.
//!
//! A service names itself once at start-up (`set_service_name`); the name appears in problem
//! types (`urn:<name>:problem:<code>`) and metric names (`<name>_http_requests_total`).

use std::sync::OnceLock;

pub mod client_ip;
pub mod clock;
pub mod csv;
pub mod db;
pub mod docs_page;
pub mod error;
pub mod guard;
pub mod http;
pub mod idempotency;
pub mod ids;
pub mod jobs;
pub mod json;
pub mod local_time;
pub mod metrics;
pub mod middleware;
pub mod money;
#[cfg(feature = "mail")]
pub mod outbox;
pub mod pagination;
pub mod process;
pub mod query;
pub mod ratelimit;
pub mod secrets;
pub mod validate;

#[cfg(feature = "testkit")]
pub mod testkit;

static SERVICE_NAME: OnceLock<&'static str> = OnceLock::new();

/// Names this process's service; the first call wins (tests start many servers of one
/// service in a process).
pub fn set_service_name(name: &'static str) {
    let _ = SERVICE_NAME.set(name);
}

/// The name set at start-up, `service` before that.
pub fn service_name() -> &'static str {
    SERVICE_NAME.get().copied().unwrap_or("service")
}
