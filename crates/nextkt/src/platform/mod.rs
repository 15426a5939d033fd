//! Nextkt's own plumbing: its settings, migrations, operator and buyer sessions, single-use
//! tokens and token prefixes. Everything not particular to Nextkt comes from the shared
//! `service` crate and is re-exported here, so contexts name one place for plumbing.

pub mod config;
pub mod idempotency;
pub mod one_time;
pub mod secrets;
pub mod sessions;

pub use service::{
    client_ip, clock, csv, db, docs_page, error, guard, http, ids, json, local_time, metrics,
    money, pagination, query, ratelimit, validate,
};

/// Nextkt's schema, applied at start and by `nextkt migrate`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
