//! Kisum's own plumbing: settings, the internal key, and the shared crate's modules under
//! the names the rest of the crate uses.

pub mod config;
pub mod internal_key;
pub mod list;

pub use service::{clock, db, error, ids, json, pagination, query, validate};

/// Kisum's migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
