//! Core: what a company commercially owns. The catalog of modules, packages and addon
//! products; companies; each company's base subscription and addons; the entitlement
//! snapshot computed from them, its version, history and change events.

pub mod catalog;
pub mod companies;
pub mod entitlements;
pub mod events;
pub mod subscriptions;
