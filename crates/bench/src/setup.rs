//! Setting up a benchmark through the public API, as a new organizer would: sign up, make
//! an admin API key, an event with one GA ticket type, publish it, make a storefront key.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde_json::{Value, json};

pub struct Target {
    /// An admin API key (operator access tokens expire within a long run).
    pub admin: String,
    pub storefront: String,
    pub event_id: String,
    pub ticket_type_id: String,
}

pub async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let resp = client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(status.is_success(), "{url}: {status} {body}");
    Ok(body)
}

/// Adds `extra`'s fields to `base`.
fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

/// A fresh organization with one published event; `event` and `ticket_type` add fields to
/// the defaults (a GA ticket type needs at least a capacity).
pub async fn organizer(
    client: &reqwest::Client,
    base: &str,
    event: Value,
    ticket_type: Value,
) -> anyhow::Result<Target> {
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let signup: Value = client
        .post(format!("{base}/admin/auth/signup"))
        .json(&json!({ "email": format!("bench-{stamp}@example.com"), "password": "benchmark password",
                        "name": "Bench", "organization_name": format!("Bench {stamp}") }))
        .send()
        .await?
        .json()
        .await?;
    let token = signup["tokens"]["access_token"]
        .as_str()
        .context("signup failed")?
        .to_string();
    let key = post(
        client,
        &format!("{base}/admin/api-keys"),
        &token,
        json!({ "name": "bench", "role": "admin" }),
    )
    .await?;
    let admin = key["secret"].as_str().context("api key")?.to_string();
    let event = with(
        json!({ "title": { "en": "Benchmark" }, "starts_at": "2030-01-01T19:00:00Z", "ends_at": "2030-01-01T23:00:00Z" }),
        event,
    );
    let event = post(client, &format!("{base}/admin/events"), &admin, event).await?;
    let event_id = event["id"].as_str().context("event")?.to_string();
    let tt = post(
        client,
        &format!("{base}/admin/events/{event_id}/ticket-types"),
        &admin,
        with(json!({ "name": "GA", "price": 250000 }), ticket_type),
    )
    .await?;
    let ticket_type_id = tt["id"].as_str().context("ticket type")?.to_string();
    post(
        client,
        &format!("{base}/admin/events/{event_id}/publish"),
        &admin,
        json!({}),
    )
    .await?;
    let sf = post(
        client,
        &format!("{base}/admin/storefront-keys"),
        &admin,
        json!({ "name": "bench shop", "mode": "test" }),
    )
    .await?;
    let storefront = sf["secret"].as_str().context("storefront key")?.to_string();
    Ok(Target {
        admin,
        storefront,
        event_id,
        ticket_type_id,
    })
}
