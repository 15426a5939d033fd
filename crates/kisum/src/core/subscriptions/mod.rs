//! Changing what a company owns: its base subscription (exactly one live, enforced by a
//! partial unique index) and its addons, each change bumping the entitlement version in the
//! same transaction, with a history row and an outbox event. Time-driven transitions
//! (trial ending, trial expired, grace ended) are recorded by `settle`, which every write
//! runs first and the sweeper runs on a period.

mod handlers;
pub mod service;
mod store;

pub use handlers::*;
