use std::time::Duration;

use serde_json::json;

use crate::helpers::{Auth, INTERNAL_KEY, TestApp};
use crate::on_both_databases;

on_both_databases!(
    add_grow_change_and_remove,
    order_and_buyer_limits,
    sale_windows_and_status,
    holds_expire_on_time_and_the_sweeper_tidies,
    carts_extend_once,
    seats_are_held_one_claim_each,
    bad_cart_requests_change_nothing,
);

fn remaining(availability: &serde_json::Value, id: &str) -> i64 {
    availability["ticket_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .unwrap()["remaining"]
        .as_i64()
        .unwrap()
}

async fn add_grow_change_and_remove(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let ev = app.ga_event(&owner, 10, json!({}), json!({})).await;
    let store = Auth::Internal(owner.org_id.clone());
    let avail_path = format!("/consumer/events/{}/availability", ev.event_id);
    let added = app
        .add_to_cart(
            &owner.org_id,
            None,
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": 2 }),
        )
        .await
        .expect(201);
    let token = added["cart_token"].as_str().unwrap().to_string();
    let item = added["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(added["items"][0]["quantity"], 2);
    assert_eq!(
        remaining(
            &app.get(&avail_path, &store).await.expect(200),
            &ev.ticket_type_id
        ),
        8
    );

    // Adding the same type again grows the same item.
    let grown = app
        .add_to_cart(
            &owner.org_id,
            Some(&token),
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": 3 }),
        )
        .await
        .expect(201);
    assert_eq!(grown["items"][0]["id"], item.as_str());
    assert_eq!(grown["items"][0]["quantity"], 5);
    assert!(grown.get("cart_token").is_none(), "the token is given once");

    let auth = TestApp::cart_auth(&owner.org_id, &token);
    let cart = app.get("/consumer/cart", &auth).await.expect(200);
    assert_eq!(cart["total_quantity"], 5);
    assert_eq!(cart["subtotal"], 5 * 500000);
    assert_eq!(cart["items"][0]["ticket_type_name"], "GA");
    assert!(cart["expires_at"].is_string());

    let changed = app
        .patch(
            &format!("/consumer/cart/items/{item}"),
            &auth,
            json!({ "quantity": 1 }),
        )
        .await
        .expect(200);
    assert_eq!(changed["total_quantity"], 1);
    assert_eq!(
        remaining(
            &app.get(&avail_path, &store).await.expect(200),
            &ev.ticket_type_id
        ),
        9
    );
    let changed = app
        .patch(
            &format!("/consumer/cart/items/{item}"),
            &auth,
            json!({ "quantity": 4 }),
        )
        .await
        .expect(200);
    assert_eq!(changed["total_quantity"], 4);
    app.patch(
        &format!("/consumer/cart/items/{item}"),
        &auth,
        json!({ "quantity": 0 }),
    )
    .await
    .expect_problem(400, "validation_failed");

    app.delete(&format!("/consumer/cart/items/{item}"), &auth)
        .await
        .expect(204);
    assert_eq!(
        remaining(
            &app.get(&avail_path, &store).await.expect(200),
            &ev.ticket_type_id
        ),
        10
    );
    app.delete(&format!("/consumer/cart/items/{item}"), &auth)
        .await
        .expect_problem(409, "hold_expired");
    let cart = app.get("/consumer/cart", &auth).await.expect(200);
    assert_eq!(cart["items"].as_array().unwrap().len(), 0);
    let audit = app.audit(&owner).await;
    crate::helpers::assert_exact(&audit);
}

async fn order_and_buyer_limits(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let ev = app
        .ga_event(
            &owner,
            100,
            json!({ "max_per_order": 4, "max_per_buyer": 5 }),
            json!({ "max_per_order": 3 }),
        )
        .await;
    let add = |q: i64| json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": q });
    app.add_to_cart(&owner.org_id, None, add(4))
        .await
        .expect_problem(422, "limit_exceeded");
    let first = app
        .add_to_cart(&owner.org_id, None, add(3))
        .await
        .expect(201);
    let token = first["cart_token"].as_str().unwrap();
    app.add_to_cart(&owner.org_id, Some(token), add(1))
        .await
        .expect_problem(422, "limit_exceeded");

    // Minimum per order on a second type; and the event-wide limit across types.
    let auth = Auth::bearer(&owner.token);
    let tables = app
        .post(
            &format!("/admin/events/{}/ticket-types", ev.event_id),
            &auth,
            json!({ "name": "Table", "price": 1, "capacity": 20, "min_per_order": 2 }),
        )
        .await
        .expect(201);
    let table =
        |q: i64| json!({ "event_id": ev.event_id, "ticket_type_id": tables["id"], "quantity": q });
    app.add_to_cart(&owner.org_id, None, table(1))
        .await
        .expect_problem(422, "below_minimum");
    app.add_to_cart(&owner.org_id, Some(token), table(2))
        .await
        .expect_problem(422, "limit_exceeded");

    // Per buyer: two carts of one logged-in buyer share the limit of 5.
    let (_, buyer_token, _) = app.buyer(&owner.org_id, "budi@example.com").await;
    let buyer_headers = |cart: Option<&str>| {
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
    app.post("/consumer/cart/items", &buyer_headers(None), add(3))
        .await
        .expect(201);
    let second = app
        .post("/consumer/cart/items", &buyer_headers(None), add(2))
        .await
        .expect(201);
    app.post("/consumer/cart/items", &buyer_headers(None), add(1))
        .await
        .expect_problem(422, "limit_exceeded");
    // A buyer's cart is not reachable without that buyer.
    let buyer_cart = second["cart_token"].as_str().unwrap();
    app.get(
        "/consumer/cart",
        &TestApp::cart_auth(&owner.org_id, buyer_cart),
    )
    .await
    .expect_problem(404, "not_found");
    app.get("/consumer/cart", &buyer_headers(Some(buyer_cart)))
        .await
        .expect(200);
}

async fn sale_windows_and_status(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let now = nextkt::platform::clock::Clock::now_ms(app.clock.as_ref());
    let in_an_hour = nextkt::platform::clock::rfc3339(now + 3_600_000);
    let in_two_hours = nextkt::platform::clock::rfc3339(now + 7_200_000);
    let ev = app
        .ga_event(
            &owner,
            10,
            json!({ "sale_starts_at": in_an_hour, "sale_ends_at": in_two_hours }),
            json!({}),
        )
        .await;
    // Made now: the operator's access token would expire while the test skips hours.
    let other = app.ga_event(&owner, 10, json!({}), json!({})).await;
    let auth = Auth::bearer(&owner.token);
    app.post(
        &format!("/admin/events/{}/unpublish", other.event_id),
        &auth,
        json!({}),
    )
    .await
    .expect(200);
    let add = json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id });
    app.add_to_cart(&owner.org_id, None, add.clone())
        .await
        .expect_problem(422, "sale_not_started");
    app.clock.advance_secs(3600);
    app.add_to_cart(&owner.org_id, None, add.clone())
        .await
        .expect(201);
    app.clock.advance_secs(3600);
    app.add_to_cart(&owner.org_id, None, add.clone())
        .await
        .expect_problem(422, "sale_ended");
    app.add_to_cart(
        &owner.org_id,
        None,
        json!({ "event_id": other.event_id, "ticket_type_id": other.ticket_type_id }),
    )
    .await
    .expect_problem(422, "not_on_sale");
}

async fn holds_expire_on_time_and_the_sweeper_tidies(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let ev = app
        .ga_event(&owner, 5, json!({ "hold_minutes": 10 }), json!({}))
        .await;
    let add = |q: i64| json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": q });
    let first = app
        .add_to_cart(&owner.org_id, None, add(5))
        .await
        .expect(201);
    let token = first["cart_token"].as_str().unwrap().to_string();
    let item = first["items"][0]["id"].as_str().unwrap().to_string();
    app.add_to_cart(&owner.org_id, None, add(1))
        .await
        .expect_problem(409, "sold_out");

    app.clock.advance_secs(10 * 60 - 1);
    app.add_to_cart(&owner.org_id, None, add(1))
        .await
        .expect_problem(409, "sold_out");
    app.clock.advance_secs(1);
    // At its expiry the hold stops counting, swept or not.
    let avail = app
        .get(
            &format!("/consumer/events/{}/availability", ev.event_id),
            &Auth::Internal(owner.org_id.clone()),
        )
        .await
        .expect(200);
    assert_eq!(remaining(&avail, &ev.ticket_type_id), 5);
    let auth = TestApp::cart_auth(&owner.org_id, &token);
    assert_eq!(
        app.get("/consumer/cart", &auth).await.expect(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    app.patch(
        &format!("/consumer/cart/items/{item}"),
        &auth,
        json!({ "quantity": 2 }),
    )
    .await
    .expect_problem(409, "hold_expired");

    // The sweeper marks it expired and fixes the counter within a second or so.
    let mut swept = false;
    for _ in 0..40 {
        let status: String = sqlx::query_scalar("SELECT status FROM holds WHERE id = $1")
            .bind(item.clone())
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
        if status == "expired" {
            swept = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(swept, "the sweeper expired the hold");
    let held: i64 =
        sqlx::query_scalar("SELECT held FROM inventory_pools WHERE ticket_type_id = $1")
            .bind(ev.ticket_type_id.clone())
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(held, 0);
    app.add_to_cart(&owner.org_id, None, add(5))
        .await
        .expect(201);
    let audit = app.audit(&owner).await;
    assert_eq!(audit["oversold"], 0);
    assert_eq!(audit["drift"], 0);
}

async fn carts_extend_once(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let ev = app
        .ga_event(
            &owner,
            5,
            json!({ "hold_minutes": 10, "hold_extension_minutes": 5 }),
            json!({}),
        )
        .await;
    let added = app
        .add_to_cart(
            &owner.org_id,
            None,
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id }),
        )
        .await
        .expect(201);
    let auth = TestApp::cart_auth(&owner.org_id, added["cart_token"].as_str().unwrap());
    let before = app.get("/consumer/cart", &auth).await.expect(200);
    assert_eq!(before["can_extend"], true);
    let after = app
        .post("/consumer/cart/extend", &auth, json!({}))
        .await
        .expect(200);
    let at = |v: &serde_json::Value| {
        nextkt::platform::clock::parse_rfc3339(v["expires_at"].as_str().unwrap()).unwrap()
    };
    assert_eq!(at(&after) - at(&before), 5 * 60 * 1000);
    assert_eq!(after["can_extend"], false);
    app.post("/consumer/cart/extend", &auth, json!({}))
        .await
        .expect_problem(422, "already_extended");
    // The extension holds past the original expiry.
    app.clock.advance_secs(12 * 60);
    assert_eq!(
        app.get("/consumer/cart", &auth).await.expect(200)["total_quantity"],
        1
    );

    let plain = app.ga_event(&owner, 5, json!({}), json!({})).await;
    let added = app
        .add_to_cart(
            &owner.org_id,
            None,
            json!({ "event_id": plain.event_id, "ticket_type_id": plain.ticket_type_id }),
        )
        .await
        .expect(201);
    let auth = TestApp::cart_auth(&owner.org_id, added["cart_token"].as_str().unwrap());
    app.post("/consumer/cart/extend", &auth, json!({}))
        .await
        .expect_problem(422, "extension_not_allowed");
}

async fn seats_are_held_one_claim_each(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let event = app
        .post(
            "/admin/events",
            &auth,
            json!({ "title": { "en": "Opera" }, "starts_at": "2030-05-01T19:00:00Z", "ends_at": "2030-05-01T22:00:00Z", "mode": "seated", "max_per_order": 4 }),
        )
        .await
        .expect(201);
    let event_id = event["id"].as_str().unwrap().to_string();
    let tt = app
        .post(
            &format!("/admin/events/{event_id}/ticket-types"),
            &auth,
            json!({ "name": "Stalls", "price": 100 }),
        )
        .await
        .expect(201);
    let section = app
        .post(
            &format!("/admin/events/{event_id}/sections"),
            &auth,
            json!({ "name": "S", "ticket_type_id": tt["id"], "layout": ["A-B:1-5"] }),
        )
        .await
        .expect(201);
    let seat = |i: usize| section["seats"][i]["id"].as_str().unwrap().to_string();
    app.patch(
        &format!("/admin/events/{event_id}/seats"),
        &auth,
        json!({ "seat_ids": [seat(9)], "blocked": true }),
    )
    .await
    .expect(200);
    app.post(
        &format!("/admin/events/{event_id}/publish"),
        &auth,
        json!({}),
    )
    .await
    .expect(200);

    let first = app
        .add_to_cart(
            &owner.org_id,
            None,
            json!({ "event_id": event_id, "seat_ids": [seat(0), seat(1)] }),
        )
        .await
        .expect(201);
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let token = first["cart_token"].as_str().unwrap().to_string();
    app.add_to_cart(
        &owner.org_id,
        None,
        json!({ "event_id": event_id, "seat_ids": [seat(1), seat(2)] }),
    )
    .await
    .expect_problem(409, "seat_taken");
    app.add_to_cart(
        &owner.org_id,
        None,
        json!({ "event_id": event_id, "seat_ids": [seat(9)] }),
    )
    .await
    .expect_problem(409, "seat_unavailable");
    app.add_to_cart(
        &owner.org_id,
        Some(&token),
        json!({ "event_id": event_id, "seat_ids": [seat(2), seat(3), seat(4)] }),
    )
    .await
    .expect_problem(422, "limit_exceeded");
    // Nothing of the refused requests stuck: seat 2 is free.
    let avail = app
        .get(
            &format!("/consumer/events/{event_id}/availability"),
            &Auth::Internal(owner.org_id.clone()),
        )
        .await
        .expect(200);
    let free = |id: &str| {
        avail["seats"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()["available"]
            == true
    };
    assert!(!free(&seat(0)) && !free(&seat(1)) && free(&seat(2)) && !free(&seat(9)));
    assert_eq!(avail["sections"][0]["remaining"], 7);

    // Seats of another event are not found here.
    let other = app.ga_event(&owner, 5, json!({}), json!({})).await;
    app.add_to_cart(
        &owner.org_id,
        None,
        json!({ "event_id": other.event_id, "seat_ids": [seat(3)] }),
    )
    .await
    .expect_problem(404, "not_found");

    let cart_auth = TestApp::cart_auth(&owner.org_id, &token);
    let cart = app.get("/consumer/cart", &cart_auth).await.expect(200);
    assert_eq!(cart["items"][0]["seat_label"], "A-1");
    app.delete(
        &format!(
            "/consumer/cart/items/{}",
            first["items"][1]["id"].as_str().unwrap()
        ),
        &cart_auth,
    )
    .await
    .expect(204);
    app.add_to_cart(
        &owner.org_id,
        None,
        json!({ "event_id": event_id, "seat_ids": [seat(1)] }),
    )
    .await
    .expect(201);
    // An expired seat hold frees the seat for the next buyer at once.
    app.clock.advance_secs(11 * 60);
    app.add_to_cart(
        &owner.org_id,
        None,
        json!({ "event_id": event_id, "seat_ids": [seat(0), seat(1)] }),
    )
    .await
    .expect(201);
    let audit = app.audit(&owner).await;
    assert_eq!(audit["duplicate_claims"], 0);
    assert_eq!(audit["drift"], 0);
}

async fn bad_cart_requests_change_nothing(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let ev = app.ga_event(&owner, 5, json!({}), json!({})).await;
    let before = (app.count("holds").await, app.count("carts").await);
    for (body, status, code) in [
        (
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": 0 }),
            400,
            "validation_failed",
        ),
        (
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": -3 }),
            400,
            "validation_failed",
        ),
        (
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": 101 }),
            400,
            "validation_failed",
        ),
        (
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": "two" }),
            400,
            "invalid_body",
        ),
        (json!({ "event_id": ev.event_id }), 400, "invalid_body"),
        (
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "seat_ids": [] }),
            400,
            "invalid_body",
        ),
        (
            json!({ "event_id": ev.event_id, "ticket_type_id": "no-such-type" }),
            404,
            "not_found",
        ),
        (
            json!({ "event_id": "no-such-event", "ticket_type_id": ev.ticket_type_id }),
            404,
            "not_found",
        ),
        (
            json!({ "event_id": ev.event_id, "seat_ids": ["nope"] }),
            404,
            "not_found",
        ),
    ] {
        app.add_to_cart(&owner.org_id, None, body)
            .await
            .expect_problem(status, code);
    }
    app.add_to_cart(
        &owner.org_id,
        Some("nkt_cart_unknown"),
        json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id }),
    )
    .await
    .expect_problem(404, "not_found");
    app.call_with(
        reqwest::Method::POST,
        "/consumer/cart/items",
        &Auth::Internal(owner.org_id.clone()),
        Some(json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id })),
        &[("x-reservation-path", "baseline")],
    )
    .await
    .expect_problem(400, "baseline_disabled");
    app.get("/consumer/cart", &Auth::Internal(owner.org_id.clone()))
        .await
        .expect_problem(400, "cart_token_required");
    assert_eq!((app.count("holds").await, app.count("carts").await), before);

    let added = app
        .add_to_cart(
            &owner.org_id,
            None,
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id }),
        )
        .await
        .expect(201);
    let token = added["cart_token"].as_str().unwrap();
    let other = app.ga_event(&owner, 5, json!({}), json!({})).await;
    app.add_to_cart(
        &owner.org_id,
        Some(token),
        json!({ "event_id": other.event_id, "ticket_type_id": other.ticket_type_id }),
    )
    .await
    .expect_problem(409, "cart_event_mismatch");
    // Another organization's storefront cannot use this cart.
    let stranger = app.signup("stranger@example.com").await;
    app.get(
        "/consumer/cart",
        &TestApp::cart_auth(&stranger.org_id, token),
    )
    .await
    .expect_problem(404, "not_found");
}
