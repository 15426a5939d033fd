//! Nextkt's use of the shared `Idempotency-Key` middleware: who a caller is.
//!
//! A key is private to its caller: the credential, and at a storefront also the buyer and
//! the cart (`X-Cart-Token`), since one storefront credential serves every buyer. A
//! storefront request with neither a buyer nor a cart cannot be told apart from another
//! buyer's, so its key is not honoured (the request simply runs). Keys are remembered for
//! `--idempotency-ttl-hours`.

use axum::http::{HeaderMap, header};

pub use service::idempotency::{HEADER, Idempotency, layer};

use super::secrets::prefix;
use crate::state::AppState;

/// The headers that identify the caller: a key is private to the credential, buyer and
/// cart that used it.
const CALLER_HEADERS: &[&str] = &[
    "authorization",
    "x-internal-api-key",
    "x-tenant",
    "x-storefront-key",
    "x-buyer-token",
    "x-organization",
    "x-cart-token",
];

/// A storefront credential (shared by all of a storefront's buyers) with no buyer and no
/// cart: the caller is anonymous among many.
fn anonymous_storefront_caller(headers: &HeaderMap) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let storefront_bearer = bearer.is_some_and(|t| {
        t.starts_with(prefix::STOREFRONT_LIVE) || t.starts_with(prefix::STOREFRONT_TEST)
    });
    let storefront = storefront_bearer
        || headers.contains_key("x-storefront-key")
        || headers.contains_key("x-internal-api-key");
    let someone = headers.contains_key("x-cart-token")
        || headers.contains_key("x-buyer-token")
        || (bearer.is_some() && !storefront_bearer);
    storefront && !someone
}

/// The middleware's settings, from the server's.
pub fn settings(state: &AppState) -> Idempotency {
    Idempotency {
        db: state.db.clone(),
        clock: state.clock.clone(),
        ttl_ms: state.config.idempotency_ttl_hours * 3_600_000,
        // A run older than twice the request timeout was cut short by a crash.
        abandoned_ms: i64::try_from(state.config.request_timeout_secs)
            .unwrap_or(i64::MAX / 4000)
            .saturating_mul(2000),
        max_body_bytes: state.config.max_body_bytes,
        caller_headers: CALLER_HEADERS,
        indistinct_caller: anonymous_storefront_caller,
    }
}

/// Forgets keys older than the retention period.
pub async fn purge_expired(state: &AppState) -> Result<u64, sqlx::Error> {
    service::idempotency::purge_expired(&settings(state)).await
}
