//! Memberships: which operators belong to an organization, with which role. Owners and
//! admins manage them; only an owner grants, changes or removes the owner role; the last
//! owner can be neither demoted nor removed.
//!
//! `handlers` parses and authorizes, `service` holds the rules and the transaction, `store`
//! the SQL.

mod handlers;
pub(super) mod service;
pub(super) mod store;

use serde::Serialize;
use utoipa::ToSchema;

use super::roles::Role;

// A glob, so the `__path_*` items `#[utoipa::path]` generates beside each handler come
// along: the router's `routes!(members::list)` needs them here.
pub use handlers::*;
pub use service::{INVITE_TTL_SECS, of_operator, operator_role};
pub use store::insert;

// One organization an operator belongs to, as login and `/admin/me` show it (a plain
// comment: a doc comment would change the OpenAPI description).
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipSummary {
    pub organization_id: String,
    pub organization_name: String,
    pub role: Role,
    /// `active` or `suspended` (the organization's status).
    pub status: String,
}
