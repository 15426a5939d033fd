//! The guest gate: check-in lists per event, scanner devices with their own credentials,
//! and online scanning where exactly one scan of a ticket is `valid` per entry.

pub mod bundle;
pub mod devices;
pub mod guests;
pub mod lists;
pub mod reports;
pub mod revocations;
pub mod scan;
pub mod sealing;
pub mod writer;
