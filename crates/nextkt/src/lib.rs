//! Nextkt: a multi-tenant ticketing platform.
//!
//! One folder per bounded context (`tenancy`, `buyers`, `catalog`, `inventory`, `commerce`,
//! `notify`), each owning its tables;
//! `platform` holds the shared plumbing and `app` puts the server together.

pub mod app;
pub mod buyers;
pub mod catalog;
pub mod cli;
pub mod commerce;
pub mod gate;
pub mod ids;
pub mod inventory;
pub mod jobs;
pub mod kisum;
pub mod notify;
pub mod payments;
pub mod platform;
pub mod state;
pub mod tenancy;
pub mod tickets;

pub use app::Application;
pub use state::AppState;
