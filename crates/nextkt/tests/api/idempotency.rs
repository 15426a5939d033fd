use serde_json::json;
use tokio::task::JoinSet;

use crate::helpers::{Auth, TestApp};
use crate::on_both_databases;

on_both_databases!(
    same_key_replays_the_first_answer,
    a_concurrent_duplicate_gets_409,
    keys_are_forgotten_after_their_retention,
    keys_are_private_to_each_buyer_and_cart,
);

async fn same_key_replays_the_first_answer(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let body = json!({ "name": "ci", "role": "viewer" });
    let key = [("idempotency-key", "create-ci-key")];
    let first = app
        .call_with(
            reqwest::Method::POST,
            "/admin/api-keys",
            &auth,
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!(first.status, 201);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let keys_after_first = app.count("api_keys").await;

    let again = app
        .call_with(
            reqwest::Method::POST,
            "/admin/api-keys",
            &auth,
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again.body, first.body, "the replay is the first answer");
    assert_eq!(
        app.count("api_keys").await,
        keys_after_first,
        "nothing created twice"
    );

    let changed = app
        .call_with(
            reqwest::Method::POST,
            "/admin/api-keys",
            &auth,
            Some(json!({ "name": "other", "role": "viewer" })),
            &key,
        )
        .await;
    changed.expect_problem(422, "idempotency_key_reused");

    // The key is private to the credential that used it.
    let (_, other_key) = app.api_key(&owner, "admin").await;
    let other = app
        .call_with(
            reqwest::Method::POST,
            "/admin/api-keys",
            &Auth::bearer(&other_key),
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!(other.status, 201);
    assert_ne!(other.body["id"], first.body["id"]);

    let too_long = "k".repeat(300);
    app.call_with(
        reqwest::Method::POST,
        "/admin/api-keys",
        &auth,
        Some(body),
        &[("idempotency-key", too_long.as_str())],
    )
    .await
    .expect_problem(400, "invalid_idempotency_key");
}

async fn a_concurrent_duplicate_gets_409(app: TestApp) {
    let body = json!({
        "email": "racer@example.com", "password": "correct horse battery",
        "name": "Racer", "organization_name": "Race Org"
    });
    let mut tasks = JoinSet::new();
    for _ in 0..6 {
        let client = app.client.clone();
        let url = format!("{}/admin/auth/signup", app.base);
        let body = body.clone();
        tasks.spawn(async move {
            let resp = client
                .post(url)
                .header("idempotency-key", "signup-racer")
                .json(&body)
                .send()
                .await
                .unwrap();
            let replayed = resp.headers().contains_key("idempotent-replayed");
            let status = resp.status().as_u16();
            let json: serde_json::Value = resp.json().await.unwrap();
            (status, replayed, json)
        });
    }
    let results = tasks.join_all().await;
    let originals = results.iter().filter(|(s, r, _)| *s == 201 && !*r).count();
    let in_progress = results
        .iter()
        .filter(|(s, _, b)| *s == 409 && b["code"] == "idempotency_in_progress")
        .count();
    let replays = results.iter().filter(|(s, r, _)| *s == 201 && *r).count();
    assert_eq!(originals, 1, "{results:#?}");
    assert_eq!(originals + in_progress + replays, 6, "{results:#?}");
    assert!(
        in_progress >= 1,
        "duplicates that overlap the first are refused: {results:#?}"
    );
    assert_eq!(app.count("operators").await, 1);
    assert_eq!(app.count("organizations").await, 1);
}

async fn keys_are_forgotten_after_their_retention(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let key = [("idempotency-key", "daily")];
    app.call_with(
        reqwest::Method::POST,
        "/admin/api-keys",
        &auth,
        Some(json!({ "name": "a", "role": "viewer" })),
        &key,
    )
    .await
    .expect(201);
    // The access token would expire too; use a key that does not.
    let (_, long_lived) = app.api_key(&owner, "admin").await;
    let auth = Auth::bearer(&long_lived);
    app.call_with(
        reqwest::Method::POST,
        "/admin/api-keys",
        &auth,
        Some(json!({ "name": "b", "role": "viewer" })),
        &key,
    )
    .await
    .expect(201);
    app.clock
        .advance_secs(app.state.config.idempotency_ttl_hours * 3600 + 1);
    let purged = nextkt::platform::idempotency::purge_expired(&app.state)
        .await
        .unwrap();
    assert!(purged >= 2);
    let fresh = app
        .call_with(
            reqwest::Method::POST,
            "/admin/api-keys",
            &auth,
            Some(json!({ "name": "c", "role": "viewer" })),
            &key,
        )
        .await;
    assert_eq!(fresh.status, 201);
    assert!(fresh.headers.get("idempotent-replayed").is_none());
}

async fn keys_are_private_to_each_buyer_and_cart(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let ev = app.ga_event(&owner, 10, json!({}), json!({})).await;
    let add = json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id });
    let key = [("idempotency-key", "same-key-everywhere")];
    let storefront = Auth::Internal(owner.org_id.clone());
    // Two anonymous buyers of one storefront with the same key: two carts, never the
    // other's token.
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let answer = app
            .call_with(
                reqwest::Method::POST,
                "/consumer/cart/items",
                &storefront,
                Some(add.clone()),
                &key,
            )
            .await;
        assert_eq!(answer.status, 201);
        assert!(answer.headers.get("idempotent-replayed").is_none());
        tokens.push(answer.body["cart_token"].as_str().unwrap().to_string());
    }
    assert_ne!(tokens[0], tokens[1]);

    // With a cart, the key is the cart's: a retry replays, another cart's same key runs.
    let checkout = |token: &str| {
        (
            TestApp::cart_auth(&owner.org_id, token),
            json!({ "email": "a@example.com", "name": "A" }),
        )
    };
    let (cart_a, body) = checkout(&tokens[0]);
    let first = app
        .call_with(
            reqwest::Method::POST,
            "/consumer/checkout",
            &cart_a,
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!(first.status, 201);
    let again = app
        .call_with(
            reqwest::Method::POST,
            "/consumer/checkout",
            &cart_a,
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body["order"]["id"], first.body["order"]["id"]);
    let (cart_b, body) = checkout(&tokens[1]);
    let other = app
        .call_with(
            reqwest::Method::POST,
            "/consumer/checkout",
            &cart_b,
            Some(body),
            &key,
        )
        .await;
    assert_eq!(other.status, 201);
    assert!(other.headers.get("idempotent-replayed").is_none());
    assert_ne!(other.body["order"]["id"], first.body["order"]["id"]);

    // Two logged-in buyers with the same key: each their own answer.
    let (_, a, _) = app.buyer(&owner.org_id, "a@example.com").await;
    let (_, b, _) = app.buyer(&owner.org_id, "b@example.com").await;
    let mut carts = Vec::new();
    for token in [&a, &b] {
        let answer = app
            .call_with(
                reqwest::Method::POST,
                "/consumer/cart/items",
                &Auth::buyer(&owner.org_id, token),
                Some(add.clone()),
                &[("idempotency-key", "buyer-key")],
            )
            .await;
        assert_eq!(answer.status, 201);
        carts.push(answer.body["cart_id"].as_str().unwrap().to_string());
    }
    assert_ne!(carts[0], carts[1]);
}
