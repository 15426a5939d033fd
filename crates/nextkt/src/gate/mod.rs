//! The guest gate: check-in lists per event, scanner devices with their own credentials,
//! and online scanning where exactly one scan of a ticket is `valid` per entry.

pub mod devices;
pub mod lists;
pub mod scan;
