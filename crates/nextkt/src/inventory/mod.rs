//! The oversell core: for every ticket type, section and seat, at every instant,
//! issued tickets + live holds <= capacity, and each seat has at most one live claim.
//! See docs/inventory.md.

pub mod carts;
pub mod convert;
pub mod holds;
pub mod jobs;
pub mod pools;
pub mod reserve;
pub mod seats;
