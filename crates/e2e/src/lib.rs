//! Tests (see `tests/`) and the one helper they share. Nextkt and Kisum are run side by
//! side, each a real server on its own database, talking over HTTP as in production;
//! neither service crate depends on the other.

use serde_json::Value;

/// One HTTP call: the status and the body as JSON (`null` when it is not JSON).
pub async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client.request(method, url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}
