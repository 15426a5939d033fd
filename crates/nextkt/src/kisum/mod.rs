//! The `kisum` context: Nextkt's side of the Kisum integration. Kisum is the source of venue
//! and artist data (its directory, read with the internal key); this context holds the
//! client and the operators' lookups through Nextkt. A Kisum outage never breaks a sale:
//! nothing on the buying path calls Kisum.

pub mod client;
mod handlers;
pub mod network;
pub mod snapshots;

pub use client::{Artist, KisumClient, KisumError, Venue};
pub use handlers::*;
