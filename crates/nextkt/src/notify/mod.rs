//! Outgoing messages. For now the outbox: email is written here in the same transaction as
//! the change that causes it, so nothing is sent for a change that rolled back and nothing
//! is lost when the mail server is down. A delivery worker drains it.

pub mod outbox;
