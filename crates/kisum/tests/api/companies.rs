//! Companies.

use reqwest::Method;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_databases;

on_both_databases!(
    companies_are_created_read_and_listed,
    bad_companies_are_refused
);

async fn companies_are_created_read_and_listed(app: TestApp) {
    let created = app
        .internal(
            Method::POST,
            "/internal/companies",
            Some(json!({ "name": "Java Jazz Promotions", "id": "jjp", "currency": "IDR" })),
        )
        .await
        .expect(201);
    assert_eq!(created["id"], "jjp");
    assert_eq!(created["hadTrial"], false);
    assert_eq!(created["currency"], "IDR");
    let read = app
        .internal(Method::GET, "/internal/companies/jjp", None)
        .await
        .expect(200);
    assert_eq!(read["name"], "Java Jazz Promotions");
    let other = app.new_company("Second").await;
    let first = app
        .internal(Method::GET, "/internal/companies?limit=1", None)
        .await
        .expect(200);
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    let cursor = first["nextCursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let second = app
        .internal(
            Method::GET,
            &format!("/internal/companies?limit=1&cursor={cursor}"),
            None,
        )
        .await
        .expect(200);
    let ids: Vec<&str> = [&first, &second]
        .iter()
        .map(|p| p["items"][0]["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"jjp") && ids.contains(&other.as_str()));
    // A new company owns nothing.
    let owned = app.entitlements("jjp").await;
    assert_eq!(owned["enabledModules"], json!([]));
    assert_eq!(owned["entitlementVersion"], 0);
    assert!(owned["baseModule"].is_null());
}

async fn bad_companies_are_refused(app: TestApp) {
    app.internal(
        Method::POST,
        "/internal/companies",
        Some(json!({ "name": "A", "id": "dup" })),
    )
    .await
    .expect(201);
    app.internal(
        Method::POST,
        "/internal/companies",
        Some(json!({ "name": "B", "id": "dup" })),
    )
    .await
    .expect_problem(409, "company_exists");
    app.internal(
        Method::POST,
        "/internal/companies",
        Some(json!({ "name": "", })),
    )
    .await
    .expect_problem(400, "validation_failed");
    app.internal(
        Method::POST,
        "/internal/companies",
        Some(json!({ "name": "C", "id": "has space" })),
    )
    .await
    .expect_problem(400, "validation_failed");
    app.internal(
        Method::POST,
        "/internal/companies",
        Some(json!({ "name": "C", "currency": "XXQ" })),
    )
    .await
    .expect_problem(400, "validation_failed");
    app.internal(
        Method::POST,
        "/internal/companies",
        Some(json!({ "name": "C", "plan": "gold" })),
    )
    .await
    .expect(400);
    app.internal(Method::GET, "/internal/companies/nope", None)
        .await
        .expect_problem(404, "not_found");
    let list = app
        .internal(Method::GET, "/internal/companies", None)
        .await
        .expect(200);
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "only the first was written"
    );
}
