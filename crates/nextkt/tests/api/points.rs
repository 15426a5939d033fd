use serde_json::json;

use crate::helpers::{Auth, INTERNAL_KEY, TestApp};
use crate::on_both_databases;

on_both_databases!(points_are_granted_spent_on_carts_and_expire);

async fn points_are_granted_spent_on_carts_and_expire(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let program = app.get("/admin/points-program", &auth).await.expect(200);
    assert_eq!(
        (
            program["earn_per"].as_i64(),
            program["point_value"].as_i64()
        ),
        (Some(0), Some(0))
    );
    app.call(
        reqwest::Method::PUT,
        "/admin/points-program",
        &auth,
        Some(json!({ "earn_per": 1000, "point_value": 10, "expiry_days": 30, "currency": "IDR" })),
    )
    .await
    .expect(200);
    app.call(
        reqwest::Method::PUT,
        "/admin/points-program",
        &auth,
        Some(json!({ "earn_per": -1, "point_value": 10, "expiry_days": 30, "currency": "IDR" })),
    )
    .await
    .expect_problem(400, "validation_failed");

    let (buyer_id, buyer_token, _) = app.buyer(&owner.org_id, "budi@example.com").await;
    let granted = app
        .post(
            "/admin/points/adjustments",
            &auth,
            json!({ "buyer_id": buyer_id, "points": 5000, "note": "welcome gift" }),
        )
        .await
        .expect(201);
    assert_eq!(granted["balance"], 5000);
    assert_eq!(granted["balance_value"], 50_000);
    app.post(
        "/admin/points/adjustments",
        &auth,
        json!({ "buyer_id": buyer_id, "points": -6000, "note": "too much" }),
    )
    .await
    .expect_problem(422, "not_enough_points");
    let other = app.signup("other@example.com").await;
    app.post(
        "/admin/points/adjustments",
        &Auth::bearer(&other.token),
        json!({ "buyer_id": buyer_id, "points": 10, "note": "not mine" }),
    )
    .await
    .expect_problem(404, "not_found");

    let buyer = |cart: Option<&str>| {
        let mut h = vec![
            ("x-internal-api-key".to_string(), INTERNAL_KEY.to_string()),
            ("x-tenant".to_string(), owner.org_id.clone()),
            ("authorization".to_string(), format!("Bearer {buyer_token}")),
        ];
        if let Some(c) = cart {
            h.push(("x-cart-token".into(), c.into()));
        }
        Auth::Headers(h)
    };
    let rewards = app.get("/consumer/rewards", &buyer(None)).await.expect(200);
    assert_eq!(rewards["balance"], 5000);
    assert_eq!(rewards["history"][0]["note"], "welcome gift");
    assert!(rewards["next_expiry_at"].is_string());

    let ev = app
        .ga_event(&owner, 10, json!({}), json!({ "price": 20000 }))
        .await;
    let added = app
        .post(
            "/consumer/cart/items",
            &buyer(None),
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id }),
        )
        .await
        .expect(201);
    let token = added["cart_token"].as_str().unwrap().to_string();
    app.call(
        reqwest::Method::PUT,
        "/consumer/cart/points",
        &buyer(Some(&token)),
        Some(json!({ "points": 6000 })),
    )
    .await
    .expect_problem(422, "not_enough_points");
    let cart = app
        .call(
            reqwest::Method::PUT,
            "/consumer/cart/points",
            &buyer(Some(&token)),
            Some(json!({ "points": 5000 })),
        )
        .await
        .expect(200);
    // 5,000 points are worth Rp 50,000, but the ticket costs Rp 20,000: 2,000 points used.
    assert_eq!(cart["pricing"]["points_used"], 2000);
    assert_eq!(cart["pricing"]["points_value"], 20_000);
    assert_eq!(cart["pricing"]["total"], cart["pricing"]["fee"]);

    // Anonymous carts cannot spend points.
    let anonymous = app
        .add_to_cart(
            &owner.org_id,
            None,
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id }),
        )
        .await
        .expect(201);
    app.call(
        reqwest::Method::PUT,
        "/consumer/cart/points",
        &TestApp::cart_auth(&owner.org_id, anonymous["cart_token"].as_str().unwrap()),
        Some(json!({ "points": 10 })),
    )
    .await
    .expect_problem(401, "buyer_login_required");

    // Points expire with their lot (the buyer logs in again: the old token expired too).
    app.clock.advance_secs(31 * 86_400);
    let login = app
        .post(
            "/consumer/auth/login",
            &Auth::Internal(owner.org_id.clone()),
            json!({ "email": "budi@example.com", "password": "buyer password 1" }),
        )
        .await
        .expect(200);
    let fresh_token = login["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let rewards = app
        .get(
            "/consumer/rewards",
            &Auth::buyer(&owner.org_id, &fresh_token),
        )
        .await
        .expect(200);
    assert_eq!(rewards["balance"], 0);
    assert_eq!(
        rewards["history"].as_array().unwrap().len(),
        1,
        "the history stays"
    );
}
