//! Kisum's addon-modules backend: what each company commercially owns (`core`), who may do
//! what inside it (`auth`), and the addon backends behind that gate. Built on the workspace's
//! `service` crate; it never depends on Nextkt, which it talks to over HTTP like any partner.

pub mod app;
pub mod auth;
pub mod cli;
pub mod core;
pub mod directory;
pub mod finance;
pub mod ids;
pub mod jobs;
pub mod platform;
pub mod promoter;
pub mod state;
pub mod ticketing;

pub use app::Application;
pub use state::AppState;
