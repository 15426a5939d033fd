//! The catalog: events, ticket types, seating and hotspots, for operators and storefronts.

pub mod events;
pub mod seating;
pub mod storefront;
pub mod ticket_types;
