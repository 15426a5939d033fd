//! `Idempotency-Key` for every POST. The first request with a key runs and its answer is
//! stored; the same key from the same credential with the same request replays that answer
//! (header `Idempotent-Replayed: true`); a different request under the same key is 422
//! `idempotency_key_reused`; a duplicate that arrives while the first still runs is 409
//! `idempotency_in_progress`. Server errors and 429s are not stored, so they can be retried.
//! Keys are remembered for a configured time.
//!
//! A key is private to its caller, as the service defines it (`Idempotency::caller_headers`);
//! a caller that cannot be told apart from others (`indistinct_caller`) has its key ignored,
//! so an answer is never replayed to a different caller.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::clock::SharedClock;
use crate::db::Db;
use crate::error::{ApiError, is_unique_violation};
use crate::json::payload_too_large;

pub const HEADER: &str = "idempotency-key";
const MAX_KEY_LEN: usize = 255;

/// What the middleware needs: its table (`idempotency_keys`, created by the service's own
/// migrations), time, and the service's notion of who is calling.
#[derive(Clone)]
pub struct Idempotency {
    pub db: Db,
    pub clock: SharedClock,
    /// How long a key is remembered.
    pub ttl_ms: i64,
    /// A run older than this was cut short by a crash and is taken over (twice the request
    /// timeout is a good value).
    pub abandoned_ms: i64,
    pub max_body_bytes: usize,
    /// The headers that identify the caller: a key is private to the values of these.
    pub caller_headers: &'static [&'static str],
    /// Callers that cannot be told apart from others sharing their credential: their keys
    /// are not honoured (the request simply runs), so no answer is replayed to another.
    pub indistinct_caller: fn(&HeaderMap) -> bool,
}

pub async fn layer(State(state): State<Idempotency>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST
        || !req.headers().contains_key(HEADER)
        || (state.indistinct_caller)(req.headers())
    {
        return next.run(req).await;
    }
    match run_once(&state, req, next).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

fn scope_of(caller_headers: &[&str], headers: &HeaderMap) -> String {
    let mut hasher = Sha256::new();
    for name in caller_headers {
        hasher.update(name.as_bytes());
        hasher.update(b"=");
        if let Some(value) = headers.get(*name) {
            hasher.update(value.as_bytes());
        }
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

fn fingerprint(method: &Method, uri: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(uri.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hex::encode(hasher.finalize())
}

#[derive(sqlx::FromRow)]
struct Stored {
    fingerprint: String,
    state: String,
    status_code: Option<i64>,
    content_type: Option<String>,
    body: Option<String>,
    created_at: i64,
}

async fn run_once(state: &Idempotency, req: Request, next: Next) -> Result<Response, ApiError> {
    let key = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_idempotency_key",
                format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
            )
        })?;
    let scope = scope_of(state.caller_headers, req.headers());
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, state.max_body_bytes)
        .await
        .map_err(|_| payload_too_large())?;
    let uri = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_default();
    let print = fingerprint(&parts.method, &uri, &bytes);
    let now = state.clock.now_ms();
    let (ttl_ms, abandoned_ms) = (state.ttl_ms, state.abandoned_ms);

    if !claim(state, &scope, &key, &print, now, ttl_ms, abandoned_ms).await? {
        let stored: Option<Stored> = sqlx::query_as(
            "SELECT fingerprint, state, status_code, content_type, body, created_at \
             FROM idempotency_keys WHERE scope_hash = $1 AND idem_key = $2",
        )
        .bind(scope.clone())
        .bind(key.clone())
        .fetch_optional(&state.db.pool)
        .await?;
        let Some(stored) = stored else {
            // Deleted between our insert attempt and this read (an errored first run).
            return Err(in_progress());
        };
        if stored.fingerprint != print {
            return Err(ApiError::rule(
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request",
            ));
        }
        if stored.state != "done" || stored.created_at + ttl_ms <= now {
            return Err(in_progress());
        }
        return Ok(replay(stored));
    }

    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = response.status();
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        sqlx::query("DELETE FROM idempotency_keys WHERE scope_hash = $1 AND idem_key = $2")
            .bind(scope)
            .bind(key)
            .execute(&state.db.pool)
            .await?;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX)
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("buffering response: {e}")))?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    sqlx::query(
        "UPDATE idempotency_keys SET state = 'done', status_code = $1, content_type = $2, \
         body = $3 WHERE scope_hash = $4 AND idem_key = $5",
    )
    .bind(i64::from(parts.status.as_u16()))
    .bind(content_type)
    .bind(String::from_utf8_lossy(&body).into_owned())
    .bind(scope)
    .bind(key)
    .execute(&state.db.pool)
    .await?;
    Ok(Response::from_parts(parts, Body::from(body)))
}

/// Records the key as running. False when someone already holds it.
async fn claim(
    state: &Idempotency,
    scope: &str,
    key: &str,
    print: &str,
    now: i64,
    ttl_ms: i64,
    abandoned_ms: i64,
) -> Result<bool, ApiError> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (scope_hash, idem_key, fingerprint, state, created_at) \
         VALUES ($1, $2, $3, 'running', $4) ON CONFLICT (scope_hash, idem_key) DO NOTHING",
    )
    .bind(scope.to_string())
    .bind(key.to_string())
    .bind(print.to_string())
    .bind(now)
    .execute(&state.db.pool)
    .await;
    match inserted {
        Ok(done) if done.rows_affected() == 1 => return Ok(true),
        Ok(_) => {}
        Err(err) if is_unique_violation(&err) => {}
        Err(err) => return Err(err.into()),
    }
    // Expired records and abandoned runs are taken over in place.
    let taken = sqlx::query(
        "UPDATE idempotency_keys SET fingerprint = $1, state = 'running', status_code = NULL, \
         content_type = NULL, body = NULL, created_at = $2 \
         WHERE scope_hash = $3 AND idem_key = $4 \
         AND (created_at <= $5 OR (state = 'running' AND created_at <= $6))",
    )
    .bind(print.to_string())
    .bind(now)
    .bind(scope.to_string())
    .bind(key.to_string())
    .bind(now - ttl_ms)
    .bind(now - abandoned_ms)
    .execute(&state.db.pool)
    .await?;
    Ok(taken.rows_affected() == 1)
}

fn in_progress() -> ApiError {
    ApiError::conflict(
        "idempotency_in_progress",
        "a request with this Idempotency-Key is still being processed",
    )
}

fn replay(stored: Stored) -> Response {
    let status = stored
        .status_code
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body.unwrap_or_default()).into_response();
    let headers = response.headers_mut();
    if let Some(ct) = stored
        .content_type
        .and_then(|ct| HeaderValue::from_str(&ct).ok())
    {
        headers.insert(header::CONTENT_TYPE, ct);
    }
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// Forgets keys older than the retention period.
pub async fn purge_expired(state: &Idempotency) -> Result<u64, sqlx::Error> {
    let cutoff = state.clock.now_ms() - state.ttl_ms;
    let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at <= $1")
        .bind(cutoff)
        .execute(&state.db.pool)
        .await?;
    Ok(done.rows_affected())
}
