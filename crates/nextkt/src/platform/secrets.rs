//! Secrets (from the shared crate) and the prefixes of Nextkt's tokens.

pub use service::secrets::*;

/// Token kinds, told apart by their prefix so one `Authorization: Bearer` header can carry
/// any of them.
pub mod prefix {
    pub const OPERATOR_ACCESS: &str = "nkt_oa_";
    pub const OPERATOR_REFRESH: &str = "nkt_or_";
    pub const BUYER_ACCESS: &str = "nkt_ba_";
    pub const BUYER_REFRESH: &str = "nkt_br_";
    pub const API_KEY_LIVE: &str = "nkt_live_";
    pub const API_KEY_TEST: &str = "nkt_test_";
    pub const STOREFRONT_LIVE: &str = "nkt_sf_live_";
    pub const STOREFRONT_TEST: &str = "nkt_sf_test_";
    pub const PARTNER: &str = "nkt_partner_";
    pub const ONE_TIME: &str = "nkt_ot_";
}
