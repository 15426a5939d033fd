//! Partners: platform-level clients (Kisum first) that provision organizations and hold
//! their keys. A partner sees and changes only the organizations it provisioned, and can do
//! nothing else.
//!
//! `access` authenticates a partner, `handlers` parses and authorizes, `service` holds the
//! rules and the transaction, `store` the SQL.

mod access;
mod handlers;
mod service;
mod store;

pub use access::PartnerAccess;
// A glob, so the `__path_*` items `#[utoipa::path]` generates beside each handler come
// along: the router's `routes!(partners::provision)` needs them here.
pub use handlers::*;
pub use service::{create, owned};
pub use store::set_fee_json;
