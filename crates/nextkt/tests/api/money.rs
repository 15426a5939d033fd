//! The money rules under pressure: refunds never pay out more than was paid, a payment
//! never leaves a paid order without tickets, buyer limits count what a buyer already has,
//! and an event sells in one currency.

use serde_json::{Value, json};

use crate::helpers::{Auth, GaEvent, TestApp};
use crate::on_both_databases;

on_both_databases!(
    concurrent_refunds_never_pay_out_more_than_was_paid,
    payments_for_cancelled_or_expired_orders_issue_tickets_or_are_refunded,
    buyer_limits_count_pending_and_issued_tickets,
    two_carts_of_one_buyer_at_once_respect_the_buyer_limit,
    late_payments_honour_points_and_codes_only_while_they_last,
    an_event_sells_in_one_currency,
);

async fn points_program(app: &TestApp, auth: &Auth) {
    app.call(
        reqwest::Method::PUT,
        "/admin/points-program",
        auth,
        Some(json!({ "earn_per": 1000, "point_value": 10, "expiry_days": 365, "currency": "IDR" })),
    )
    .await
    .expect(200);
}

async fn grant_points(app: &TestApp, auth: &Auth, buyer_id: &str, points: i64) {
    app.post(
        "/admin/points/adjustments",
        auth,
        json!({ "buyer_id": buyer_id, "points": points, "note": "gift" }),
    )
    .await
    .expect(201);
}

async fn balance(app: &TestApp, org_id: &str, token: &str) -> i64 {
    app.get("/consumer/rewards", &Auth::buyer(org_id, token))
        .await
        .expect(200)["balance"]
        .as_i64()
        .unwrap()
}

/// A logged-in buyer's checkout of `quantity` units, spending `points`; the answer.
async fn buyer_checkout(
    app: &TestApp,
    org_id: &str,
    token: &str,
    ev: &GaEvent,
    quantity: i64,
    points: i64,
) -> Value {
    let added = app
        .post(
            "/consumer/cart/items",
            &Auth::buyer_cart(org_id, token, None),
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": quantity }),
        )
        .await
        .expect(201);
    let cart = added["cart_token"].as_str().unwrap().to_string();
    if points > 0 {
        app.call(
            reqwest::Method::PUT,
            "/consumer/cart/points",
            &Auth::buyer_cart(org_id, token, Some(&cart)),
            Some(json!({ "points": points })),
        )
        .await
        .expect(200);
    }
    app.post(
        "/consumer/checkout",
        &Auth::buyer_cart(org_id, token, Some(&cart)),
        json!({}),
    )
    .await
    .expect(201)
}

/// Every order the database calls paid has one ticket for each unit it bought.
async fn assert_paid_orders_have_their_tickets(app: &TestApp) {
    let broken: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM orders o WHERE o.status = 'paid' AND \
         (SELECT COALESCE(SUM(quantity), 0) FROM order_lines l WHERE l.order_id = o.id) <> \
         (SELECT COUNT(*) FROM tickets t WHERE t.order_id = o.id)",
    )
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(broken, 0, "a paid order without all of its tickets");
}

/// An anonymous checkout with the code `LAST` applied.
async fn code_checkout(app: &TestApp, org_id: &str, ev: &GaEvent) -> Value {
    let added = app
        .add_to_cart(
            org_id,
            None,
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id }),
        )
        .await
        .expect(201);
    let cart = TestApp::cart_auth(org_id, added["cart_token"].as_str().unwrap());
    app.call(
        reqwest::Method::PUT,
        "/consumer/cart/discount",
        &cart,
        Some(json!({ "code": "LAST" })),
    )
    .await
    .expect(200);
    app.post(
        "/consumer/checkout",
        &cart,
        json!({ "email": "walk-in@example.com", "name": "Walk In" }),
    )
    .await
    .expect(201)
}

/// budi@example.com logs in again (access tokens lapse while a test skips ahead).
async fn relogin(app: &TestApp, org_id: &str) -> String {
    let login = app
        .post(
            "/consumer/auth/login",
            &Auth::Internal(org_id.to_string()),
            json!({ "email": "budi@example.com", "password": "buyer password 1" }),
        )
        .await
        .expect(200);
    login["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn expire_due(app: &TestApp) {
    nextkt::commerce::orders::expire_due(
        &app.state,
        nextkt::platform::clock::Clock::now_ms(app.clock.as_ref()),
    )
    .await
    .unwrap();
}

async fn concurrent_refunds_never_pay_out_more_than_was_paid(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    points_program(&app, &auth).await;
    let (buyer_id, token, _) = app.buyer(&owner.org_id, "budi@example.com").await;
    grant_points(&app, &auth, &buyer_id, 1000).await;
    let ev = app
        .ga_event(&owner, 10, json!({}), json!({ "price": 100000 }))
        .await;
    let checkout = buyer_checkout(&app, &owner.org_id, &token, &ev, 2, 1000).await;
    assert_eq!(checkout["order"]["points_used"], 1000);
    assert_eq!(
        app.pay_by_webhook(&checkout["order"]["payments"][0]).await,
        "paid"
    );
    let order_id = checkout["order"]["id"].as_str().unwrap().to_string();
    let total = checkout["order"]["total"].as_i64().unwrap();
    let before = balance(&app, &owner.org_id, &token).await;

    // Ten refunds of 60 % each, all at once: exactly one fits.
    let amount = total * 60 / 100;
    let path = format!("/admin/orders/{order_id}/refunds");
    let answers = app
        .post_all(&path, &auth, vec![json!({ "amount": amount }); 10])
        .await;
    let accepted = answers.iter().filter(|a| a.status == 201).count();
    assert_eq!(accepted, 1, "exactly one 60 % refund fits");
    for refused in answers.iter().filter(|a| a.status != 201) {
        assert_eq!(
            (refused.status, refused.code()),
            (422, "refund_exceeds_paid")
        );
    }
    let refunded: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM refunds WHERE order_id = $1",
    )
    .bind(order_id.clone())
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(refunded, amount);
    let detail = app
        .get(&format!("/admin/orders/{order_id}"), &auth)
        .await
        .expect(200);
    assert_eq!(detail["status"], "partially_refunded");
    assert_eq!(detail["refunded"], amount);
    assert_eq!(detail["refundable"], total - amount);
    // Points move once: 60 % of the 1,000 spent come back, 60 % of those earned go.
    let earned = checkout["order"]["subtotal"].as_i64().unwrap()
        - checkout["order"]["points_value"].as_i64().unwrap();
    let earned = earned / 1000;
    let after = balance(&app, &owner.org_id, &token).await;
    assert_eq!(
        after,
        before + 1000 * amount / total - earned * amount / total,
        "points returned and taken back once"
    );

    // Two at once for what is left: one goes through, the order is refunded, nothing more.
    let rest = total - amount;
    let answers = app
        .post_all(&path, &auth, vec![json!({ "amount": rest }); 2])
        .await;
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, vec![201, 422]);
    let detail = app
        .get(&format!("/admin/orders/{order_id}"), &auth)
        .await
        .expect(200);
    assert_eq!(detail["status"], "refunded");
    assert_eq!(detail["refundable"], 0);
    assert_eq!(detail["refunds"].as_array().unwrap().len(), 2);
    app.post(&path, &auth, json!({ "amount": 1 }))
        .await
        .expect_problem(422, "order_not_paid");
    // Refunds can be listed and read by operators.
    let listed = app
        .get(&format!("/admin/refunds?order_id={order_id}"), &auth)
        .await
        .expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    let one = listed["items"][0]["id"].as_str().unwrap();
    let read = app
        .get(&format!("/admin/refunds/{one}"), &auth)
        .await
        .expect(200);
    assert_eq!(read["order_id"], order_id.as_str());
    let other = app.signup("other@example.com").await;
    app.get(
        &format!("/admin/refunds/{one}"),
        &Auth::bearer(&other.token),
    )
    .await
    .expect_problem(404, "not_found");
}

async fn payments_for_cancelled_or_expired_orders_issue_tickets_or_are_refunded(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app
        .ga_event(&owner, 1, json!({ "hold_minutes": 10 }), json!({}))
        .await;

    // Cancelled by an operator, the unit still free: paid after all, with its ticket.
    let first = app
        .checkout_anonymously(&owner.org_id, &ev, 1, "walk-in@example.com", "Walk In")
        .await;
    let id = first["order"]["id"].as_str().unwrap();
    app.post(&format!("/admin/orders/{id}/cancel"), &auth, json!({}))
        .await
        .expect(200);
    assert_eq!(
        app.pay_by_webhook(&first["order"]["payments"][0]).await,
        "paid_late"
    );
    let detail = app
        .get(&format!("/admin/orders/{id}"), &auth)
        .await
        .expect(200);
    assert_eq!(detail["status"], "paid");
    assert_eq!(detail["tickets"].as_array().unwrap().len(), 1);
    assert_paid_orders_have_their_tickets(&app).await;
    app.post(
        &format!("/admin/orders/{id}/refunds"),
        &auth,
        json!({ "return_to_sale": true }),
    )
    .await
    .expect(201);

    // Cancelled, and the unit sold to someone else meanwhile: refunded, the buyer told.
    let second = app
        .checkout_anonymously(&owner.org_id, &ev, 1, "walk-in@example.com", "Walk In")
        .await;
    let id = second["order"]["id"].as_str().unwrap();
    app.post(&format!("/admin/orders/{id}/cancel"), &auth, json!({}))
        .await
        .expect(200);
    let winner = app
        .checkout_anonymously(&owner.org_id, &ev, 1, "walk-in@example.com", "Walk In")
        .await;
    assert_eq!(
        app.pay_by_webhook(&winner["order"]["payments"][0]).await,
        "paid"
    );
    assert_eq!(
        app.pay_by_webhook(&second["order"]["payments"][0]).await,
        "refunded_late"
    );
    let detail = app
        .get(&format!("/admin/orders/{id}"), &auth)
        .await
        .expect(200);
    assert_eq!(detail["status"], "refunded");
    assert!(detail["tickets"].as_array().unwrap().is_empty());
    assert_eq!(detail["refunds"][0]["amount"], second["order"]["total"]);
    let email = app
        .last_email("late_payment_refund", "walk-in@example.com")
        .await;
    assert_eq!(email["order_id"], second["order"]["id"]);
    assert_paid_orders_have_their_tickets(&app).await;
    crate::helpers::assert_exact(&app.audit(&owner).await);
}

async fn late_payments_honour_points_and_codes_only_while_they_last(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    // The operator's access token lapses while the test skips ahead; a key does not.
    let (_, key) = app.api_key(&owner, "admin").await;
    let auth = Auth::bearer(&key);
    points_program(&app, &auth).await;
    let (buyer_id, token, _) = app.buyer(&owner.org_id, "budi@example.com").await;
    grant_points(&app, &auth, &buyer_id, 1000).await;
    let ev = app
        .ga_event(
            &owner,
            10,
            json!({ "hold_minutes": 10 }),
            json!({ "price": 100000 }),
        )
        .await;

    // Expired with its points given back, the points still there: paid, and spent again.
    let order = buyer_checkout(&app, &owner.org_id, &token, &ev, 1, 1000).await;
    app.clock.advance_secs(11 * 60);
    expire_due(&app).await;
    let token = relogin(&app, &owner.org_id).await;
    assert_eq!(balance(&app, &owner.org_id, &token).await, 1000);
    assert_eq!(
        app.pay_by_webhook(&order["order"]["payments"][0]).await,
        "paid_late"
    );
    let earned = (100000 - 10000) / 1000;
    assert_eq!(balance(&app, &owner.org_id, &token).await, earned);

    // Expired, the points given back and spent elsewhere: refunded, never paid twice with them.
    grant_points(&app, &auth, &buyer_id, 1000 - earned).await;
    let order = buyer_checkout(&app, &owner.org_id, &token, &ev, 1, 1000).await;
    app.clock.advance_secs(11 * 60);
    expire_due(&app).await;
    let token = relogin(&app, &owner.org_id).await;
    app.post(
        "/admin/points/adjustments",
        &auth,
        json!({ "buyer_id": buyer_id, "points": -500, "note": "spent elsewhere" }),
    )
    .await
    .expect(201);
    assert_eq!(
        app.pay_by_webhook(&order["order"]["payments"][0]).await,
        "refunded_late"
    );
    assert_eq!(balance(&app, &owner.org_id, &token).await, 500);

    // Expired with its code's last use given back, then the use taken by another order.
    app.post(
        "/admin/discounts",
        &auth,
        json!({ "code": "LAST", "kind": "percent", "value": 1000, "max_uses": 1 }),
    )
    .await
    .expect(201);
    let late = code_checkout(&app, &owner.org_id, &ev).await;
    app.clock.advance_secs(11 * 60);
    expire_due(&app).await;
    let winner = code_checkout(&app, &owner.org_id, &ev).await;
    assert_eq!(
        app.pay_by_webhook(&winner["order"]["payments"][0]).await,
        "paid"
    );
    assert_eq!(
        app.pay_by_webhook(&late["order"]["payments"][0]).await,
        "refunded_late"
    );
    let uses: i64 = sqlx::query_scalar("SELECT uses FROM discounts WHERE code = 'LAST'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(uses, 1);
    assert_paid_orders_have_their_tickets(&app).await;
    crate::helpers::assert_exact(&app.get("/admin/inventory/audit", &auth).await.expect(200));
}

async fn buyer_limits_count_pending_and_issued_tickets(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app
        .ga_event(&owner, 100, json!({ "max_per_buyer": 2 }), json!({}))
        .await;
    let (_, token, _) = app.buyer(&owner.org_id, "budi@example.com").await;
    let add = |q: i64| json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": q });

    // One ticket bought and issued, one waiting for payment: the limit of 2 is reached.
    let paid = buyer_checkout(&app, &owner.org_id, &token, &ev, 1, 0).await;
    assert_eq!(
        app.pay_by_webhook(&paid["order"]["payments"][0]).await,
        "paid"
    );
    buyer_checkout(&app, &owner.org_id, &token, &ev, 1, 0).await;
    app.post(
        "/consumer/cart/items",
        &Auth::buyer_cart(&owner.org_id, &token, None),
        add(1),
    )
    .await
    .expect_problem(422, "limit_exceeded");

    // A refunded ticket no longer counts.
    let id = paid["order"]["id"].as_str().unwrap();
    app.post(&format!("/admin/orders/{id}/refunds"), &auth, json!({}))
        .await
        .expect(201);
    app.post(
        "/consumer/cart/items",
        &Auth::buyer_cart(&owner.org_id, &token, None),
        add(1),
    )
    .await
    .expect(201);

    // Seats count the same way.
    let event = app
        .post(
            "/admin/events",
            &auth,
            json!({ "title": { "en": "Opera" }, "starts_at": "2030-05-01T19:00:00Z", "ends_at": "2030-05-01T22:00:00Z",
                "mode": "seated", "max_per_buyer": 2 }),
        )
        .await
        .expect(201);
    let event_id = event["id"].as_str().unwrap().to_string();
    let tt = app
        .post(
            &format!("/admin/events/{event_id}/ticket-types"),
            &auth,
            json!({ "name": "Stalls", "price": 100000 }),
        )
        .await
        .expect(201);
    let section = app
        .post(
            &format!("/admin/events/{event_id}/sections"),
            &auth,
            json!({ "name": "S", "ticket_type_id": tt["id"], "layout": ["A:1-6"] }),
        )
        .await
        .expect(201);
    let seat = |i: usize| section["seats"][i]["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/admin/events/{event_id}/publish"),
        &auth,
        json!({}),
    )
    .await
    .expect(200);
    let added = app
        .post(
            "/consumer/cart/items",
            &Auth::buyer_cart(&owner.org_id, &token, None),
            json!({ "event_id": event_id, "seat_ids": [seat(0), seat(1)] }),
        )
        .await
        .expect(201);
    let cart = added["cart_token"].as_str().unwrap();
    let order = app
        .post(
            "/consumer/checkout",
            &Auth::buyer_cart(&owner.org_id, &token, Some(cart)),
            json!({}),
        )
        .await
        .expect(201);
    assert_eq!(
        app.pay_by_webhook(&order["order"]["payments"][0]).await,
        "paid"
    );
    app.post(
        "/consumer/cart/items",
        &Auth::buyer_cart(&owner.org_id, &token, None),
        json!({ "event_id": event_id, "seat_ids": [seat(2)] }),
    )
    .await
    .expect_problem(422, "limit_exceeded");
}

async fn two_carts_of_one_buyer_at_once_respect_the_buyer_limit(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app
        .ga_event(&owner, 100, json!({ "max_per_buyer": 2 }), json!({}))
        .await;
    let second_type = app
        .post(
            &format!("/admin/events/{}/ticket-types", ev.event_id),
            &auth,
            json!({ "name": "VIP", "price": 900000, "capacity": 100 }),
        )
        .await
        .expect(201);
    let (_, token, _) = app.buyer(&owner.org_id, "budi@example.com").await;
    // Two new carts of one buyer, two ticket types (two batches), at once.
    for round in 0..5 {
        let answers = app
            .post_all(
                "/consumer/cart/items",
                &Auth::buyer_cart(&owner.org_id, &token, None),
                vec![
                    json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": 2 }),
                    json!({ "event_id": ev.event_id, "ticket_type_id": second_type["id"], "quantity": 2 }),
                ],
            )
            .await;
        let held: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM holds WHERE status = 'active'",
        )
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
        assert_eq!(held, 2, "round {round}: the buyer holds at most 2");
        let granted = answers.iter().filter(|a| a.status == 201).count();
        assert_eq!(granted, usize::from(round == 0), "round {round}");
    }
}

async fn an_event_sells_in_one_currency(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app.ga_event(&owner, 10, json!({}), json!({})).await;
    let event = app
        .get(&format!("/admin/events/{}", ev.event_id), &auth)
        .await
        .expect(200);
    assert_eq!(event["currency"], "IDR", "the organization's by default");
    let before = app.count("ticket_types").await;
    app.post(
        &format!("/admin/events/{}/ticket-types", ev.event_id),
        &auth,
        json!({ "name": "Dollar tier", "price": 5000, "currency": "USD", "capacity": 10 }),
    )
    .await
    .expect_problem(422, "currency_mismatch");
    assert_eq!(app.count("ticket_types").await, before, "nothing written");

    // An event in US dollars: its ticket types default to it, and the platform's rupiah fee
    // deal applies only its percentage.
    let usd = app
        .ga_event(
            &owner,
            10,
            json!({ "currency": "USD" }),
            json!({ "price": 5000 }),
        )
        .await;
    let types = app
        .get(
            &format!("/admin/events/{}/ticket-types", usd.event_id),
            &auth,
        )
        .await
        .expect(200);
    let types = types.get("items").unwrap_or(&types);
    assert_eq!(types[0]["currency"], "USD");
    let added = app
        .add_to_cart(
            &owner.org_id,
            None,
            json!({ "event_id": usd.event_id, "ticket_type_id": usd.ticket_type_id, "quantity": 2 }),
        )
        .await
        .expect(201);
    let cart = app
        .get(
            "/consumer/cart",
            &TestApp::cart_auth(&owner.org_id, added["cart_token"].as_str().unwrap()),
        )
        .await
        .expect(200);
    let pricing = &cart["pricing"];
    assert_eq!(cart["currency"], "USD");
    // 2.5 % of 2 × 5,000 cents, no rupiah fixed part.
    assert_eq!(pricing["fee"], 250, "{pricing}");
    // The event's currency is fixed once it has ticket types.
    app.patch(
        &format!("/admin/events/{}", usd.event_id),
        &auth,
        json!({ "currency": "IDR" }),
    )
    .await
    .expect_problem(422, "currency_fixed");
}
