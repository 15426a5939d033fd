//! `ApiQuery`: axum's query-string extractor with its rejections turned into problem+json
//! (`invalid_query`, naming the parameter), as `ApiJson` does for bodies.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(rejection_to_error(&rejection)),
        }
    }
}

fn rejection_to_error(rejection: &QueryRejection) -> ApiError {
    let text = rejection.body_text();
    let text = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(&text);
    // serde names the parameter first: `limit: invalid digit found in string`.
    let field = text
        .split_once(": ")
        .map(|(field, _)| field)
        .filter(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    let mut err = ApiError::bad_request(
        "invalid_query",
        format!("the query string does not match the expected parameters: {text}"),
    );
    err.field = field.map(str::to_string);
    err
}
