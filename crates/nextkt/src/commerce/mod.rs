//! Consumer commerce: the cart (pricing, discounts, checkout and orders come next).

pub mod cart;
