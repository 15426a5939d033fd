//! Operator accounts: sign-up (which creates an organization owned by the new operator),
//! login, refresh, logout, accepting an invitation, and `GET /admin/me`.
//!
//! `handlers` parses and authorizes, `service` holds the rules and the transaction, `store`
//! the SQL.

mod handlers;
mod service;
pub(super) mod store;

// A glob, so the `__path_*` items `#[utoipa::path]` generates beside each handler come
// along: the router's `routes!(operators::signup)` needs them here.
pub use handlers::*;
pub use service::{invite_payload, wrong_login};
pub use store::find_or_invite;
