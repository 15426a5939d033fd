//! Plumbing every context uses: configuration, database, errors, HTTP helpers, the outgoing
//! HTTP client, secrets, sessions, idempotency, pagination, rate limits, metrics, time zones
//! and money for display.

pub mod client_ip;
pub mod clock;
pub mod config;
pub mod csv;
pub mod db;
pub mod docs_page;
pub mod error;
pub mod guard;
pub mod http;
pub mod idempotency;
pub mod ids;
pub mod json;
pub mod local_time;
pub mod metrics;
pub mod money;
pub mod one_time;
pub mod pagination;
pub mod query;
pub mod ratelimit;
pub mod secrets;
pub mod sessions;
pub mod validate;
