//! Malformed requests get a clear 4xx problem and write nothing.

use crate::helpers::{Auth, TestApp};
use crate::on_both_databases;

on_both_databases!(malformed_bodies_are_refused_and_change_nothing);

async fn raw(
    app: &TestApp,
    token: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
    idem: bool,
) -> (u16, serde_json::Value, Option<String>) {
    // An oversized body is refused from its Content-Length before it is read; the server
    // may close the connection while the client is still writing it, and the client then
    // sees a broken pipe instead of the 413. Sending again is what a client would do.
    let mut attempts = 0;
    let resp = loop {
        let mut req = app
            .client
            .post(format!("{}/admin/api-keys", app.base))
            .bearer_auth(token)
            .body(body.clone());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        if idem {
            req = req.header("idempotency-key", uuid::Uuid::now_v7().to_string());
        }
        match req.send().await {
            Ok(resp) => break resp,
            Err(err) if attempts < 5 && err.is_request() => attempts += 1,
            Err(err) => panic!("{err}"),
        }
    };
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    (status, resp.json().await.unwrap_or_default(), ct)
}

async fn malformed_bodies_are_refused_and_change_nothing(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let before = (app.count("api_keys").await, app.count("audit_log").await);
    let big = format!(
        "{{\"name\": \"{}\", \"role\": \"viewer\"}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let cases: Vec<(Option<&str>, Vec<u8>, u16, &str)> = vec![
        (
            Some("application/json"),
            b"{\"name\": ".to_vec(),
            400,
            "malformed_json",
        ),
        (
            Some("application/json"),
            b"".to_vec(),
            400,
            "malformed_json",
        ),
        (
            Some("application/json"),
            b"[1,2]".to_vec(),
            400,
            "invalid_body",
        ),
        (
            Some("application/json"),
            br#"{"name": ["x"], "role": "viewer"}"#.to_vec(),
            400,
            "invalid_body",
        ),
        (
            Some("application/json"),
            br#"{"name": "x", "role": "emperor"}"#.to_vec(),
            400,
            "invalid_body",
        ),
        (
            Some("application/json"),
            br#"{"name": "x", "role": "viewer", "admin": true}"#.to_vec(),
            400,
            "invalid_body",
        ),
        (
            Some("application/json"),
            br#"{"name": "", "role": "viewer"}"#.to_vec(),
            400,
            "validation_failed",
        ),
        (
            Some("text/plain"),
            br#"{"name": "x", "role": "viewer"}"#.to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            None,
            br#"{"name": "x", "role": "viewer"}"#.to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            Some("application/json"),
            big.into_bytes(),
            413,
            "payload_too_large",
        ),
    ];
    for (content_type, body, status, code) in cases {
        for idem in [false, true] {
            let (got, problem, ct) =
                raw(&app, &owner.token, content_type, body.clone(), idem).await;
            assert_eq!(got, status, "{content_type:?} idem={idem}: {problem:#}");
            assert_eq!(problem["code"], code, "{problem:#}");
            assert_eq!(ct.as_deref(), Some("application/problem+json"));
        }
    }
    assert_eq!(
        (app.count("api_keys").await, app.count("audit_log").await),
        before,
        "refused requests wrote nothing"
    );
    // The organization settings refuse bad values field by field.
    for (field, value) in [
        ("currency", "rupiah"),
        ("timezone", "not a zone"),
        ("locale", "fr"),
        ("support_email", "nope"),
        ("website", "ftp://x"),
    ] {
        let problem = app
            .patch(
                "/admin/organization",
                &Auth::bearer(&owner.token),
                serde_json::json!({ field: value }),
            )
            .await
            .expect_problem(400, "validation_failed");
        assert_eq!(problem["field"], field);
    }
    let org = app
        .get("/admin/organization", &Auth::bearer(&owner.token))
        .await
        .expect(200);
    assert_eq!(org["currency"], "IDR");
    assert_eq!(org["timezone"], "Asia/Jakarta");
}
