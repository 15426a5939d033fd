//! Integration tests: the real server over HTTP, each test on SQLite and on PostgreSQL.

mod helpers;

mod admin_orders;
mod api_keys;
mod browser;
mod buyers;
mod cart;
mod catalog;
mod checkout;
mod cli;
mod concurrency;
mod email;
mod gate;
mod gate_offline;
mod guests;
mod idempotency;
mod input;
mod isolation;
mod kisum;
mod lists;
mod members;
mod money;
mod operators;
mod partners;
mod payment_modes;
mod platform;
mod points;
mod pricing;
mod refunds;
mod roles;
mod sales;
mod storefront;
mod ticket_page;
mod xendit;
