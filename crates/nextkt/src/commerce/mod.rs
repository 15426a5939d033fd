//! Consumer commerce: the cart, pricing (platform fee, discounts, tax), and (next) checkout
//! and orders.

pub mod cart;
pub mod discounts;
pub mod fees;
pub mod pricing;
