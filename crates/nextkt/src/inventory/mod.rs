//! The oversell core: for every ticket type, section and seat, at every instant,
//! issued tickets + live holds <= capacity, and each seat has at most one live claim.
//! See docs/inventory.md.
//!
//! `reserve` (batched GA holds), `seats`, `holds`, `convert`, `pools` and `jobs` hold the
//! rules; `store` the SQL of holds and seat claims (`pools` and `carts` are store-shaped
//! themselves); `handlers` the one route, the audit.

pub mod carts;
pub mod convert;
mod handlers;
pub mod holds;
pub mod jobs;
pub mod pools;
pub mod reserve;
pub mod seats;
pub mod status;
pub mod store;

pub use status::HoldStatus;
