use serde_json::{Value, json};

use crate::helpers::{Auth, TestApp};
use crate::on_both_databases;

on_both_databases!(
    browse_cart_discount_points_checkout_pay_and_see_the_tickets,
    webhooks_apply_once_and_refuse_bad_tokens,
    late_payments_claim_again_or_are_refunded,
    free_orders_are_paid_at_once_and_the_last_code_use_goes_once,
    signing_keys_rotate_and_old_tickets_still_verify,
);

async fn pay(app: &TestApp, payment_url: &str, outcome: &str) {
    let resp = app
        .client
        .post(payment_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("outcome={outcome}"))
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success() || resp.status().is_redirection(),
        "{}",
        resp.status()
    );
}

async fn callback_token(app: &TestApp) -> String {
    nextkt::payments::simulated_callback_token(&app.state.db, 0)
        .await
        .unwrap()
}

async fn webhook(app: &TestApp, token: &str, body: Value) -> crate::helpers::Resp {
    app.call_with(
        reqwest::Method::POST,
        "/webhooks/simulated",
        &Auth::None,
        Some(body),
        &[("x-callback-token", token)],
    )
    .await
}

async fn browse_cart_discount_points_checkout_pay_and_see_the_tickets(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    app.call(
        reqwest::Method::PUT,
        "/admin/points-program",
        &auth,
        Some(json!({ "earn_per": 1000, "point_value": 1, "expiry_days": 365, "currency": "IDR" })),
    )
    .await
    .expect(200);
    let ev = app
        .ga_event(&owner, 10, json!({}), json!({ "price": 500000 }))
        .await;
    app.post(
        "/admin/discounts",
        &auth,
        json!({ "code": "TENOFF", "kind": "percent", "value": 1000 }),
    )
    .await
    .expect(201);
    let (buyer_id, buyer_token, _) = app.buyer(&owner.org_id, "budi@example.com").await;
    app.post(
        "/admin/points/adjustments",
        &auth,
        json!({ "buyer_id": buyer_id, "points": 20000, "note": "gift" }),
    )
    .await
    .expect(201);

    // Browse.
    let listed = app
        .get("/consumer/events", &Auth::Internal(owner.org_id.clone()))
        .await
        .expect(200);
    assert_eq!(listed["items"][0]["id"], ev.event_id.as_str());
    // Cart, code, points.
    let added = app
        .post(
            "/consumer/cart/items",
            &Auth::buyer_cart(&owner.org_id, &buyer_token, None),
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": 2 }),
        )
        .await
        .expect(201);
    let cart_token = added["cart_token"].as_str().unwrap().to_string();
    let with = |c: &str| Auth::buyer_cart(&owner.org_id, &buyer_token, Some(c));
    app.call(
        reqwest::Method::PUT,
        "/consumer/cart/discount",
        &with(&cart_token),
        Some(json!({ "code": "tenoff" })),
    )
    .await
    .expect(200);
    let cart = app
        .call(
            reqwest::Method::PUT,
            "/consumer/cart/points",
            &with(&cart_token),
            Some(json!({ "points": 20000 })),
        )
        .await
        .expect(200);
    let expected_total = cart["pricing"]["total"].as_i64().unwrap();
    // 1,000,000 − 100,000 − 20,000 + fee 2 × 14,500.
    assert_eq!(expected_total, 909_000);

    // Checkout, replayed with the same key.
    let body = json!({});
    let first = app
        .call_with(
            reqwest::Method::POST,
            "/consumer/checkout",
            &with(&cart_token),
            Some(body.clone()),
            &[("idempotency-key", "checkout-1")],
        )
        .await
        .expect(201);
    let again = app
        .call_with(
            reqwest::Method::POST,
            "/consumer/checkout",
            &with(&cart_token),
            Some(body),
            &[("idempotency-key", "checkout-1")],
        )
        .await
        .expect(201);
    assert_eq!(first["order"]["id"], again["order"]["id"]);
    assert_eq!(app.count("orders").await, 1);
    let order = &first["order"];
    assert_eq!(order["status"], "pending_payment");
    assert_eq!(order["total"], expected_total);
    assert_eq!(order["email"], "budi@example.com");
    assert_eq!(order["lines"][0]["quantity"], 2);
    // Points are spent at checkout; the cart can no longer change.
    let rewards = app
        .get(
            "/consumer/rewards",
            &Auth::buyer_cart(&owner.org_id, &buyer_token, None),
        )
        .await
        .expect(200);
    assert_eq!(rewards["balance"], 0);
    app.post(
        "/consumer/cart/items",
        &with(&cart_token),
        json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id }),
    )
    .await
    .expect_problem(409, "cart_checked_out");
    app.post("/consumer/checkout", &with(&cart_token), json!({}))
        .await
        .expect_problem(409, "cart_checked_out");

    // The simulated provider's page, then its callback.
    let payment_url = first["payment_url"].as_str().unwrap();
    let page = app
        .client
        .get(payment_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("909000 IDR"));
    pay(&app, payment_url, "paid").await;
    let order = app
        .get(
            &format!(
                "/consumer/orders/{}",
                first["order"]["id"].as_str().unwrap()
            ),
            &Auth::buyer_cart(&owner.org_id, &buyer_token, None),
        )
        .await
        .expect(200);
    assert_eq!(order["status"], "paid");
    assert_eq!(order["payments"][0]["status"], "paid");
    let tickets = order["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 2);
    assert_ne!(tickets[0]["code"], tickets[1]["code"]);
    assert!(
        tickets[0]["code"].as_str().unwrap().len() >= 43,
        "256-bit codes"
    );

    // Points earned on what the tickets cost: (1,000,000 − 100,000 − 20,000) / 1,000.
    let rewards = app
        .get(
            "/consumer/rewards",
            &Auth::buyer_cart(&owner.org_id, &buyer_token, None),
        )
        .await
        .expect(200);
    assert_eq!(rewards["balance"], 880);
    let mine = app
        .get(
            "/consumer/tickets",
            &Auth::buyer_cart(&owner.org_id, &buyer_token, None),
        )
        .await
        .expect(200);
    assert_eq!(mine["items"].as_array().unwrap().len(), 2);
    let orders = app
        .get(
            "/consumer/orders",
            &Auth::buyer_cart(&owner.org_id, &buyer_token, None),
        )
        .await
        .expect(200);
    assert_eq!(orders["items"].as_array().unwrap().len(), 1);

    // The public ticket page, as HTML and JSON; its QR verifies with the event's key.
    let code = tickets[0]["code"].as_str().unwrap();
    let html = app
        .client
        .get(format!("{}/t/{code}", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Budi") && html.contains("<svg") && html.contains("Valid"));
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "no external assets"
    );
    assert!(
        !html.contains("budi@example.com"),
        "nothing more personal than the name"
    );
    let public = app.ticket_json(code).await;
    assert_eq!(public["holder_name"], "Budi");
    let key: (String, String) =
        sqlx::query_as("SELECT id, public_key FROM event_signing_keys WHERE event_id = $1")
            .bind(ev.event_id.clone())
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    let claims = nextkt::tickets::signing::verify(public["qr_payload"].as_str().unwrap(), |kid| {
        (kid == key.0).then(|| key.1.clone())
    })
    .unwrap();
    assert_eq!(claims.code, code);
    app.get("/t/not-a-real-code", &Auth::None)
        .await
        .expect_problem(404, "not_found");

    // Inventory: sold, nothing held, counters exact; the confirmation email is queued.
    let types = app
        .get(
            &format!("/admin/events/{}/ticket-types", ev.event_id),
            &auth,
        )
        .await
        .expect(200)["items"]
        .clone();
    assert_eq!(
        (types[0]["sold"].as_i64(), types[0]["held"].as_i64()),
        (Some(2), Some(0))
    );
    let audit = app.audit(&owner).await;
    crate::helpers::assert_exact(&audit);
    let email = app
        .last_email("order_confirmation", "budi@example.com")
        .await;
    assert_eq!(email["tickets"].as_array().unwrap().len(), 2);
    let discount: i64 = sqlx::query_scalar("SELECT uses FROM discounts")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(discount, 1, "the code's use is counted once");

    // And back: a full refund voids the tickets, returns the stock and takes the earned
    // points back.
    let order_id = first["order"]["id"].as_str().unwrap();
    app.post(
        &format!("/admin/orders/{order_id}/refunds"),
        &auth,
        json!({}),
    )
    .await
    .expect(201);
    let public = app.ticket_json(code).await;
    assert_eq!(public["status"], "void");
    let types = app
        .get(
            &format!("/admin/events/{}/ticket-types", ev.event_id),
            &auth,
        )
        .await
        .expect(200)["items"]
        .clone();
    assert_eq!(types[0]["sold"], 0);
    let rewards = app
        .get(
            "/consumer/rewards",
            &Auth::buyer_cart(&owner.org_id, &buyer_token, None),
        )
        .await
        .expect(200);
    // 880 earned taken back; the 20,000 spent come back.
    assert_eq!(rewards["balance"], 20_000);
}

async fn checkout_one(
    app: &TestApp,
    org: &str,
    ev: &crate::helpers::GaEvent,
    quantity: i64,
) -> Value {
    let added = app
        .add_to_cart(org, None, json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": quantity }))
        .await
        .expect(201);
    let cart = TestApp::cart_auth(org, added["cart_token"].as_str().unwrap());
    app.post(
        "/consumer/checkout",
        &cart,
        json!({ "email": "walk-in@example.com", "name": "Walk In" }),
    )
    .await
    .expect(201)
}

async fn webhooks_apply_once_and_refuse_bad_tokens(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let ev = app.ga_event(&owner, 10, json!({}), json!({})).await;
    let checkout = checkout_one(&app, &owner.org_id, &ev, 3).await;
    let payment = &checkout["order"]["payments"][0];
    let event = json!({
        "id": "evt_1", "type": "payment.paid", "payment_id": payment["id"],
        "amount": payment["amount"], "currency": "IDR"
    });
    webhook(&app, "wrong-token", event.clone())
        .await
        .expect_problem(401, "invalid_callback_token");
    assert_eq!(
        app.count("tickets").await,
        0,
        "a refused callback changes nothing"
    );
    let token = callback_token(&app).await;
    assert_eq!(
        webhook(&app, &token, event.clone()).await.expect(200)["outcome"],
        "paid"
    );
    assert_eq!(
        webhook(&app, &token, event.clone()).await.expect(200)["outcome"],
        "duplicate"
    );
    // Another event id for the same payment: recorded, but the payment is settled already.
    let mut retry = event.clone();
    retry["id"] = json!("evt_2");
    assert_eq!(
        webhook(&app, &token, retry).await.expect(200)["outcome"],
        "already_paid"
    );
    assert_eq!(app.count("tickets").await, 3, "tickets issued once");
    // A failure reported after the capture changes nothing.
    let failed = json!({ "id": "evt_3", "type": "payment.failed", "payment_id": payment["id"], "amount": payment["amount"], "currency": "IDR" });
    assert_eq!(
        webhook(&app, &token, failed).await.expect(200)["outcome"],
        "ignored"
    );
    let unknown = json!({ "id": "evt_4", "type": "payment.paid", "payment_id": "nope", "amount": 1, "currency": "IDR" });
    webhook(&app, &token, unknown)
        .await
        .expect_problem(404, "not_found");
    // A wrong amount is not settled.
    let other = checkout_one(&app, &owner.org_id, &ev, 1).await;
    let p = &other["order"]["payments"][0];
    let wrong = json!({ "id": "evt_5", "type": "payment.paid", "payment_id": p["id"], "amount": 1, "currency": "IDR" });
    assert_eq!(
        webhook(&app, &token, wrong).await.expect(200)["outcome"],
        "amount_mismatch"
    );
    assert_eq!(app.count("tickets").await, 3);
    let audit = app.audit(&owner).await;
    crate::helpers::assert_exact(&audit);
}

async fn late_payments_claim_again_or_are_refunded(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let ev = app
        .ga_event(&owner, 2, json!({ "hold_minutes": 10 }), json!({}))
        .await;
    let token = callback_token(&app).await;
    // The operator's access token will expire while the test skips ahead; a key will not.
    let (_, viewer) = app.api_key(&owner, "viewer").await;

    // Late, with stock left: the order is paid after all.
    let late = checkout_one(&app, &owner.org_id, &ev, 1).await;
    app.clock.advance_secs(11 * 60);
    nextkt::commerce::orders::expire_due(
        &app.state,
        nextkt::platform::clock::Clock::now_ms(app.clock.as_ref()),
    )
    .await
    .unwrap();
    let p = &late["order"]["payments"][0];
    let paid = json!({ "id": "evt_late", "type": "payment.paid", "payment_id": p["id"], "amount": p["amount"], "currency": "IDR" });
    assert_eq!(
        webhook(&app, &token, paid).await.expect(200)["outcome"],
        "paid_late"
    );
    assert_eq!(app.count("tickets").await, 1);

    // Late, with the stock gone: refunded, and the buyer is told.
    let gone = checkout_one(&app, &owner.org_id, &ev, 1).await;
    app.clock.advance_secs(11 * 60);
    nextkt::commerce::orders::expire_due(
        &app.state,
        nextkt::platform::clock::Clock::now_ms(app.clock.as_ref()),
    )
    .await
    .unwrap();
    let winner = checkout_one(&app, &owner.org_id, &ev, 1).await;
    assert_eq!(winner["order"]["status"], "pending_payment");
    let p = &gone["order"]["payments"][0];
    let paid = json!({ "id": "evt_gone", "type": "payment.paid", "payment_id": p["id"], "amount": p["amount"], "currency": "IDR" });
    assert_eq!(
        webhook(&app, &token, paid).await.expect(200)["outcome"],
        "refunded_late"
    );
    let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = $1")
        .bind(gone["order"]["id"].as_str().unwrap().to_string())
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "refunded");
    let email = app
        .last_email("late_payment_refund", "walk-in@example.com")
        .await;
    assert_eq!(email["order_id"], gone["order"]["id"]);
    assert_eq!(app.count("tickets").await, 1);
    let audit = app
        .get("/admin/inventory/audit", &Auth::bearer(&viewer))
        .await
        .expect(200);
    crate::helpers::assert_exact(&audit);
}

async fn free_orders_are_paid_at_once_and_the_last_code_use_goes_once(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app
        .ga_event(&owner, 10, json!({}), json!({ "price": 100000 }))
        .await;
    app.post(
        "/admin/discounts",
        &auth,
        json!({ "code": "FREE", "kind": "percent", "value": 10000, "max_uses": 1 }),
    )
    .await
    .expect(201);
    // Two carts apply the last use; both check out at once; exactly one gets it.
    let mut carts = Vec::new();
    for _ in 0..2 {
        let added = app
            .add_to_cart(
                &owner.org_id,
                None,
                json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id }),
            )
            .await
            .expect(201);
        let cart = TestApp::cart_auth(&owner.org_id, added["cart_token"].as_str().unwrap());
        app.call(
            reqwest::Method::PUT,
            "/consumer/cart/discount",
            &cart,
            Some(json!({ "code": "FREE" })),
        )
        .await
        .expect(200);
        carts.push(cart);
    }
    let (a, b) = tokio::join!(
        app.post(
            "/consumer/checkout",
            &carts[0],
            json!({ "email": "a@example.com", "name": "A" })
        ),
        app.post(
            "/consumer/checkout",
            &carts[1],
            json!({ "email": "b@example.com", "name": "B" })
        ),
    );
    let statuses = [a.status, b.status];
    assert!(
        statuses.contains(&201) && statuses.contains(&422),
        "{a:?} {b:?}"
    );
    let winner = if a.status == 201 { a.body } else { b.body };
    // Free: paid at once, no payment, tickets issued.
    assert_eq!(winner["order"]["total"], 0);
    assert_eq!(winner["order"]["status"], "paid");
    assert!(winner["payment_url"].is_null());
    assert_eq!(winner["order"]["tickets"].as_array().unwrap().len(), 1);
    let uses: i64 = sqlx::query_scalar("SELECT uses FROM discounts")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(uses, 1);
    // The loser's holds are untouched: it can drop the code and buy.
    let loser = if statuses[0] == 422 {
        &carts[0]
    } else {
        &carts[1]
    };
    app.call(
        reqwest::Method::DELETE,
        "/consumer/cart/discount",
        loser,
        None,
    )
    .await
    .expect(200);
    app.post(
        "/consumer/checkout",
        loser,
        json!({ "email": "l@example.com", "name": "L" }),
    )
    .await
    .expect(201);
}

async fn signing_keys_rotate_and_old_tickets_still_verify(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app
        .ga_event(&owner, 10, json!({}), json!({ "price": 0 }))
        .await;
    let first = checkout_one(&app, &owner.org_id, &ev, 1).await;
    let rotated = app
        .post(
            &format!("/admin/events/{}/signing-keys", ev.event_id),
            &auth,
            json!({}),
        )
        .await
        .expect(201);
    assert_eq!(rotated.as_array().unwrap().len(), 2);
    let second = checkout_one(&app, &owner.org_id, &ev, 1).await;
    let keys = app
        .get(
            &format!("/admin/events/{}/signing-keys", ev.event_id),
            &auth,
        )
        .await
        .expect(200)["items"]
        .clone();
    let lookup = |kid: &str| {
        keys.as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == kid)
            .map(|k| k["public_key"].as_str().unwrap().to_string())
    };
    let old = nextkt::tickets::signing::verify(
        first["order"]["tickets"][0]["qr_payload"].as_str().unwrap(),
        lookup,
    )
    .unwrap();
    let new = nextkt::tickets::signing::verify(
        second["order"]["tickets"][0]["qr_payload"]
            .as_str()
            .unwrap(),
        lookup,
    )
    .unwrap();
    assert_ne!(old.kid, new.kid, "new tickets use the new key");
    assert_eq!(new.kid, keys[1]["id"].as_str().unwrap());
    let (_, viewer) = app.api_key(&owner, "viewer").await;
    app.post(
        &format!("/admin/events/{}/signing-keys", ev.event_id),
        &Auth::bearer(&viewer),
        json!({}),
    )
    .await
    .expect_problem(403, "forbidden");
}
