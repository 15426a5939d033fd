//! Consumer commerce: the cart, pricing (platform fee, discounts, tax), loyalty points, and
//! (next) checkout and orders.

pub mod admin_orders;
pub mod cart;
pub mod discounts;
pub mod fees;
pub mod orders;
pub mod points;
pub mod pricing;
pub mod refunds;
