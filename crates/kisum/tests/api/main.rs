//! Integration tests: the real `kisum` server over HTTP, each test on SQLite and on
//! PostgreSQL.

mod helpers;

mod auth;
mod catalog;
mod companies;
mod directory;
mod finance;
mod subscriptions;
