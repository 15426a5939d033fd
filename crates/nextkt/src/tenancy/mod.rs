//! Tenancy: organizations, operators and their roles, API keys, partners, and the audit log.
//!
//! Parts with more than one job are folders: `handlers` (HTTP: parse, authorize, map the
//! answer), `service` (rules, the transaction and its audit entry), `store` (the SQL).

pub mod access;
pub mod api_keys;
pub mod audit;
pub mod members;
pub mod operators;
pub mod organizations;
pub mod partners;
pub mod roles;
