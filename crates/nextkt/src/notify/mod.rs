//! Outgoing messages. Email is written to the outbox in the same transaction as the change
//! that causes it, so nothing is sent for a change that rolled back and nothing is lost
//! when the mail server is down; the worker delivers it.
//!
//! `outbox` queues an email, `templates` renders it, `worker` sends it; the outbox's
//! storage and delivery loop are the shared crate's (`service::outbox`).

pub mod outbox;
pub mod templates;
pub mod worker;
