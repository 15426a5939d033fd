//! Raw input no handler should ever see, refused in one place before routing: a NUL
//! character anywhere (path, query string or body; PostgreSQL cannot store one in text and
//! fails the query), and a path that does not decode to UTF-8. Both answer 400
//! problem+json, so no extractor, query or log line meets them.
//!
//! The body is read once, up to the body limit (413 beyond it), scanned and handed on; a
//! request without a body costs nothing. NUL is looked for as the raw byte in every body,
//! as the `\u0000` escape in JSON bodies (which decodes to NUL), and as `%00` in form bodies.

use axum::body::HttpBody as _;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::json::payload_too_large;

pub async fn layer(max_body_bytes: usize, req: Request, next: Next) -> Response {
    match check(max_body_bytes, req).await {
        Ok(req) => next.run(req).await,
        Err(err) => err.into_response(),
    }
}

async fn check(max_body_bytes: usize, req: Request) -> Result<Request, ApiError> {
    let uri = req.uri();
    if has_encoded_nul(uri.path().as_bytes())
        || uri.query().is_some_and(|q| has_encoded_nul(q.as_bytes()))
    {
        return Err(nul_character());
    }
    if !decodes_to_utf8(uri.path().as_bytes()) {
        return Err(ApiError::bad_request(
            "invalid_path",
            "the path does not decode to UTF-8 text",
        ));
    }
    if req.body().size_hint().exact() == Some(0) {
        return Ok(req);
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max_body_bytes as u64) {
        return Err(payload_too_large());
    }
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, max_body_bytes)
        .await
        .map_err(|_| payload_too_large())?;
    if body_has_nul(&parts.headers, &bytes) {
        return Err(nul_character());
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

fn nul_character() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "nul_character",
        "the request contains a NUL character (U+0000), which no field accepts",
    )
}

/// `%00` in a path or query string (a raw NUL cannot be in a URI at all).
fn has_encoded_nul(text: &[u8]) -> bool {
    text.windows(3).any(|w| w == b"%00")
}

/// Whether percent-decoding the path yields UTF-8 text.
fn decodes_to_utf8(path: &[u8]) -> bool {
    if !path.contains(&b'%') {
        return true;
    }
    let mut decoded = Vec::with_capacity(path.len());
    let mut i = 0;
    while i < path.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (path[i], path.get(i + 1), path.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let (h, l) = (hex(h).unwrap_or(0), hex(l).unwrap_or(0));
                decoded.push(u8::try_from(h * 16 + l).unwrap_or(0));
                i += 3;
            }
            (b, _, _) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    std::str::from_utf8(&decoded).is_ok()
}

fn body_has_nul(headers: &HeaderMap, body: &Bytes) -> bool {
    if body.contains(&0) {
        return true;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if media == "application/x-www-form-urlencoded" {
        has_encoded_nul(body)
    } else if media == "application/json" || media.ends_with("+json") {
        has_json_nul_escape(body)
    } else {
        false
    }
}

/// `\u0000` where the backslash starts an escape (not `\\u0000`, an escaped backslash
/// followed by the text `u0000`).
fn has_json_nul_escape(body: &[u8]) -> bool {
    let mut backslashes = 0usize;
    for (i, &b) in body.iter().enumerate() {
        if b == b'\\' {
            backslashes += 1;
            continue;
        }
        if b == b'u' && backslashes % 2 == 1 && body.get(i + 1..i + 5) == Some(b"0000") {
            return true;
        }
        backslashes = 0;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nul_however_it_is_written() {
        assert!(has_encoded_nul(b"/t/%00"));
        assert!(has_encoded_nul(b"q=a%00b"));
        assert!(!has_encoded_nul(b"q=%2500"));
        assert!(has_json_nul_escape(br#"{"a":"x\u0000"}"#));
        assert!(has_json_nul_escape(br#"{"a":"\\\u0000"}"#));
        assert!(!has_json_nul_escape(br#"{"a":"x\\u0000"}"#));
        assert!(has_json_nul_escape(br#"{"a":"\u00001"}"#));
        assert!(!has_json_nul_escape(br#"{"a":"\u0001"}"#));
        assert!(!has_json_nul_escape(br#"{"a":"u0000"}"#));
    }

    #[test]
    fn paths_must_decode_to_utf8() {
        assert!(decodes_to_utf8(b"/admin/events/abc"));
        assert!(decodes_to_utf8(b"/t/caf%C3%A9"));
        assert!(decodes_to_utf8(b"/t/100%"));
        assert!(!decodes_to_utf8(b"/t/%FF"));
        assert!(!decodes_to_utf8(b"/t/%C3%28"));
    }
}
