//! The catalog and the internal key.

use reqwest::Method;

use crate::helpers::{Backend, TestApp, spawn_app_with, strings};
use crate::on_both_databases;

on_both_databases!(
    the_catalog_has_four_personas_four_addons_and_no_ticketing,
    pricing_reads_filter_by_audience_and_keys,
    internal_routes_need_the_internal_key,
);

async fn the_catalog_has_four_personas_four_addons_and_no_ticketing(app: TestApp) {
    let modules = app
        .internal(Method::GET, "/internal/modules", None)
        .await
        .expect(200);
    let modules = modules["modules"].as_array().unwrap();
    let of_kind = |kind: &str| -> Vec<String> {
        modules
            .iter()
            .filter(|m| m["type"] == kind)
            .map(|m| m["key"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(of_kind("base"), ["promoter", "venue", "artist", "vendor"]);
    assert_eq!(
        of_kind("addon"),
        ["finance", "ai", "touring", "venue_marketplace"]
    );
    assert!(
        !modules
            .iter()
            .any(|m| m["key"].as_str().unwrap().contains("ticket"))
    );

    let packages = app
        .internal(Method::GET, "/internal/packages", None)
        .await
        .expect(200);
    let promoter = packages["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "basic_promoter")
        .unwrap()
        .clone();
    assert_eq!(promoter["audience"], "promoter");
    assert_eq!(promoter["baseModule"], "promoter");
    assert_eq!(promoter["trialEnabled"], true);
    assert_eq!(promoter["trialDays"], 14);

    let addons = app
        .internal(Method::GET, "/internal/addons", None)
        .await
        .expect(200);
    let finance = addons["addons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == "finance")
        .unwrap()
        .clone();
    assert_eq!(finance["module"], "finance");
    assert!(strings(&finance["audiences"]).contains(&"venue".to_string()));
}

async fn pricing_reads_filter_by_audience_and_keys(app: TestApp) {
    let venue = app
        .call(Method::GET, "/public/packages?audience=venue", &[], None)
        .await
        .expect(200);
    let keys: Vec<&str> = venue["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["basic_venue"]);

    let addons = app
        .call(
            Method::GET,
            "/public/addons?audience=promoter&keys=ai,finance",
            &[],
            None,
        )
        .await
        .expect(200);
    let keys: Vec<&str> = addons["addons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["finance", "ai"]);

    // The venue persona cannot buy the venue marketplace (it is for those who book venues).
    let venue_addons = app
        .call(Method::GET, "/public/addons?audience=venue", &[], None)
        .await
        .expect(200);
    assert!(
        !venue_addons["addons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["key"] == "venue_marketplace")
    );

    app.call(
        Method::GET,
        "/public/packages?audience=ticketing",
        &[],
        None,
    )
    .await
    .expect_problem(400, "validation_failed");
}

async fn internal_routes_need_the_internal_key(app: TestApp) {
    app.call(Method::GET, "/internal/modules", &[], None)
        .await
        .expect_problem(401, "internal_key_required");
    app.call(
        Method::GET,
        "/internal/modules",
        &[("x-internal-api-key", "not-the-key-at-all-0000")],
        None,
    )
    .await
    .expect_problem(401, "invalid_internal_key");
    // Public routes need nothing.
    app.call(Method::GET, "/public/packages", &[], None)
        .await
        .expect(200);
}

#[tokio::test]
async fn without_an_internal_key_every_internal_route_is_closed() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.internal_api_key = None).await;
    for path in [
        "/internal/modules",
        "/internal/companies",
        "/internal/events",
    ] {
        app.internal(Method::GET, path, None)
            .await
            .expect_problem(503, "internal_key_not_configured");
    }
}

#[tokio::test]
async fn pricing_reads_allow_only_the_configured_origins() {
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.public_cors_origins = vec!["https://kisum.io".to_string()]
    })
    .await;
    let allowed = app
        .call(
            Method::GET,
            "/public/packages",
            &[("origin", "https://kisum.io")],
            None,
        )
        .await;
    assert_eq!(
        allowed.headers.get("access-control-allow-origin").unwrap(),
        "https://kisum.io"
    );
    let other = app
        .call(
            Method::GET,
            "/public/packages",
            &[("origin", "https://evil.example")],
            None,
        )
        .await;
    assert!(other.headers.get("access-control-allow-origin").is_none());
    // Internal routes never answer cross-origin reads.
    let internal = app
        .call(
            Method::GET,
            "/internal/modules",
            &[("origin", "https://kisum.io")],
            None,
        )
        .await;
    assert!(
        internal
            .headers
            .get("access-control-allow-origin")
            .is_none()
    );
}
