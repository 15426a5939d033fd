//! Consumer commerce: the cart, pricing (platform fee, discounts, tax), loyalty points,
//! checkout, orders and refunds.
//!
//! Each part is layered the same way: `handlers` parse, authorize and map the answer;
//! services hold the rules and the transaction (with its audit entry and outbox email);
//! `store` modules hold the SQL. `pricing` is pure rules and `admin_orders` only the
//! operators' order routes (their services are in `orders`).

pub mod admin_orders;
pub mod cart;
pub mod discounts;
pub mod fees;
pub mod orders;
pub mod points;
pub mod pricing;
pub mod refunds;
pub mod sales;
