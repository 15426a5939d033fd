//! The client's IP address, for rate limits: the peer address, or the first
//! `X-Forwarded-For` entry when the server is told it sits behind a trusted proxy.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use axum::extract::FromRef;

use crate::error::ApiError;

pub struct ClientIp(pub IpAddr);

/// Whether `X-Forwarded-For` names the client (the server sits behind a trusted proxy).
#[derive(Clone, Copy, Debug)]
pub struct TrustForwardedFor(pub bool);

impl<S> FromRequestParts<S> for ClientIp
where
    TrustForwardedFor: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if TrustForwardedFor::from_ref(state).0
            && let Some(ip) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse().ok())
        {
            return Ok(ClientIp(ip));
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        Ok(ClientIp(peer))
    }
}
