//! Ticket buyers: accounts that belong to one organization's storefront, and the storefront
//! credentials that open the consumer API.

pub mod access;
pub mod accounts;
pub mod credential_cache;
