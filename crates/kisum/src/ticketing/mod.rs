//! Ticketing through Nextkt, as Kisum's white-label partner (Mode A). Ticketing is not a
//! Kisum module: linking needs no entitlement, only a superadmin or admin of the company.
//! Kisum provisions the company's Nextkt organization with its partner key (the company id
//! as the organization's id and external reference, so a retry finds the same one), keeps
//! the organization's API key sealed at rest, rotates it and revokes it on unlinking.

pub mod link;
pub mod nextkt;
pub mod sealing;
