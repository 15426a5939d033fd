use serde_json::Value;

use crate::helpers::{Auth, TestApp};
use crate::on_both_databases;

on_both_databases!(
    health_readiness_and_metrics,
    openapi_and_docs,
    metrics_can_require_a_token
);

async fn health_readiness_and_metrics(app: TestApp) {
    assert_eq!(
        app.get("/healthz", &Auth::None).await.expect(200)["status"],
        "ok"
    );
    assert_eq!(
        app.get("/readyz", &Auth::None).await.expect(200)["status"],
        "ok"
    );
    let resp = app.get("/healthz", &Auth::None).await;
    assert!(
        resp.headers.contains_key("x-request-id"),
        "every answer has a request id"
    );
    let metrics = app.get("/metrics", &Auth::None).await.expect(200);
    let text = metrics.as_str().unwrap();
    assert!(text.contains("nextkt_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/healthz\""), "{text}");
    app.get("/no/such/route", &Auth::None)
        .await
        .expect_problem(404, "not_found");
    app.delete("/healthz", &Auth::None)
        .await
        .expect_problem(405, "method_not_allowed");
}

async fn openapi_and_docs(app: TestApp) {
    let doc = app.get("/openapi.json", &Auth::None).await.expect(200);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/admin/auth/signup",
        "/admin/auth/login",
        "/admin/auth/refresh",
        "/admin/auth/logout",
        "/admin/me",
        "/admin/organization",
        "/admin/members",
        "/admin/members/{operator_id}",
        "/admin/api-keys",
        "/admin/api-keys/{key_id}",
        "/admin/storefront-keys",
        "/admin/audit-log",
        "/partner/organizations",
        "/partner/organizations/{org_id}",
        "/partner/organizations/{org_id}/api-keys",
        "/partner/organizations/{org_id}/suspend",
        "/consumer/auth/register",
        "/consumer/auth/login",
        "/consumer/auth/password-reset",
        "/consumer/me",
        "/admin/events",
        "/admin/events/{event_id}/ticket-types",
        "/admin/events/{event_id}/sections",
        "/admin/events/{event_id}/hotspots",
        "/admin/inventory/audit",
        "/consumer/events",
        "/consumer/events/{event_id}/availability",
        "/consumer/cart/items",
        "/consumer/cart/extend",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    // Every operation says what it answers.
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path} documents its responses"
            );
        }
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    let html = app.get("/docs", &Auth::None).await.expect(200);
    let html = html.as_str().unwrap();
    assert!(html.contains("/partner/organizations"));
    for external in ["src=\"http", "href=\"http", "<script src", "@import"] {
        assert!(
            !html.contains(external),
            "docs page loads nothing from elsewhere ({external})"
        );
    }
    let _: Value = doc;
}

async fn metrics_can_require_a_token(app: TestApp) {
    // Open by default (see health_readiness_and_metrics); with a token set, only its bearer.
    const TOKEN: &str = "scrape-token-0123456789";
    let guarded = crate::helpers::spawn_app_with(app.backend, |config| {
        config.metrics_token = Some(TOKEN.to_string());
    })
    .await;
    guarded
        .get("/metrics", &Auth::None)
        .await
        .expect_problem(401, "missing_credentials");
    for wrong in [
        "scrape-token-012345678",
        "scrape-token-0123456789x",
        "nkt_live_x",
    ] {
        guarded
            .get("/metrics", &Auth::bearer(wrong))
            .await
            .expect_problem(401, "invalid_credentials");
    }
    let metrics = guarded
        .get("/metrics", &Auth::bearer(TOKEN))
        .await
        .expect(200);
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("nextkt_http_requests_total"),
        "{metrics}"
    );
    // Health checks stay open.
    guarded.get("/healthz", &Auth::None).await.expect(200);
    // A token too short to be a secret is refused at start.
    let mut config = crate::helpers::test_config("sqlite://unused.db".into());
    config.metrics_token = Some("short".into());
    assert!(config.validate().is_err());
}
