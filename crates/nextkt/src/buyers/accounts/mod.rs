//! Buyer accounts under `/consumer/auth/*`: register, verify email, login, refresh, logout,
//! password reset by emailed one-time token, and `GET /consumer/me`. Every account belongs
//! to one organization's storefront; the same email may hold accounts at several.
//!
//! `handlers` parses and authorizes, `service` holds the rules and the transaction, `store`
//! the SQL.

mod handlers;
mod service;
mod store;

// A glob, so the `__path_*` items `#[utoipa::path]` generates beside each handler come
// along: the router's `routes!(buyer_accounts::register)` needs them here.
pub use handlers::*;
pub use service::{RESET_TTL_SECS, VERIFY_TTL_SECS};
