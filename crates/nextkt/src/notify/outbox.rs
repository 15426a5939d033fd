//! Queuing an email in the transaction that causes it: the shared outbox, on Nextkt's
//! `outbox` table.

pub use service::outbox::{Email, enqueue};
