//! Auth: who may do what. Users and their sessions (JWT access tokens signed with rotating
//! Ed25519 keys, rotating refresh tokens with reuse detection), company memberships with a
//! tenant role, per-membership module grants and permissions, delegation, and the one
//! enforcement chain every module route goes through: effective access = company
//! entitlements ∩ membership grants.

pub mod access;
pub mod invitations;
pub mod keys;
pub mod mail;
pub mod members;
pub mod resets;
pub mod roles;
pub mod sessions;
pub mod signup;
pub mod users;
