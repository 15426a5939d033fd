//! Tenancy: organizations, operators and their roles, API keys, partners, and the audit log.

pub mod access;
pub mod api_keys;
pub mod audit;
pub mod members;
pub mod operators;
pub mod organizations;
pub mod partners;
pub mod roles;
