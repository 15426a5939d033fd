//! Integration tests: the real `kisum` server over HTTP, each test on SQLite and on
//! PostgreSQL.

mod helpers;

mod catalog;
mod companies;
mod subscriptions;
