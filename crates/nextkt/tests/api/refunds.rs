use serde_json::{Value, json};

use crate::helpers::{Auth, GaEvent, TestApp};
use crate::on_both_databases;

on_both_databases!(refunds_void_tickets_return_stock_and_follow_the_money);

async fn paid_order(app: &TestApp, org: &str, ev: &GaEvent, quantity: i64, email: &str) -> Value {
    let added = app
        .add_to_cart(org, None, json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": quantity }))
        .await
        .expect(201);
    let cart = TestApp::cart_auth(org, added["cart_token"].as_str().unwrap());
    let checkout = app
        .post(
            "/consumer/checkout",
            &cart,
            json!({ "email": email, "name": "Holder" }),
        )
        .await
        .expect(201);
    assert_eq!(
        app.pay_by_webhook(&checkout["order"]["payments"][0]).await,
        "paid"
    );
    app.get("/consumer/cart/order", &cart).await.expect(200)
}

async fn sold(app: &TestApp, auth: &Auth, ev: &GaEvent) -> i64 {
    let types = app
        .get(&format!("/admin/events/{}/ticket-types", ev.event_id), auth)
        .await
        .expect(200)["items"]
        .clone();
    types[0]["sold"].as_i64().unwrap()
}

async fn refunds_void_tickets_return_stock_and_follow_the_money(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app
        .ga_event(&owner, 10, json!({}), json!({ "price": 100000 }))
        .await;

    // A whole order.
    let order = paid_order(&app, &owner.org_id, &ev, 2, "a@example.com").await;
    let id = order["id"].as_str().unwrap();
    assert_eq!(sold(&app, &auth, &ev).await, 2);
    let refund = app
        .post(
            &format!("/admin/orders/{id}/refunds"),
            &auth,
            json!({ "reason": "show moved" }),
        )
        .await
        .expect(201);
    assert_eq!(refund["amount"], order["total"]);
    assert_eq!(refund["tickets_voided"], 2);
    assert_eq!(refund["status"], "requested");
    // The refund job hands it to the provider (the simulated one completes at once).
    let mut status = String::new();
    for _ in 0..50 {
        status = sqlx::query_scalar("SELECT status FROM refunds WHERE id = $1")
            .bind(refund["id"].as_str().unwrap().to_string())
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
        if status == "succeeded" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, "succeeded");
    let after = app
        .get(&format!("/admin/orders/{id}"), &auth)
        .await
        .expect(200);
    assert_eq!(after["status"], "refunded");
    assert!(
        after["tickets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "void")
    );
    assert_eq!(sold(&app, &auth, &ev).await, 0, "back on sale");
    let code = after["tickets"][0]["code"].as_str().unwrap();
    let page = app.ticket_json(code).await;
    assert_eq!(page["status"], "void");
    let email = app.last_email("refund", "a@example.com").await;
    assert_eq!(email["reason"], "show moved");
    app.post(&format!("/admin/orders/{id}/refunds"), &auth, json!({}))
        .await
        .expect_problem(422, "order_not_paid");

    // One ticket of three, kept off sale.
    let order = paid_order(&app, &owner.org_id, &ev, 3, "b@example.com").await;
    let id = order["id"].as_str().unwrap();
    let ticket = order["tickets"][1]["id"].as_str().unwrap();
    let refund = app
        .post(
            &format!("/admin/orders/{id}/refunds"),
            &auth,
            json!({ "ticket_ids": [ticket], "return_to_sale": false }),
        )
        .await
        .expect(201);
    let line_total = order["total"].as_i64().unwrap();
    assert!(
        (refund["amount"].as_i64().unwrap() - line_total / 3).abs() <= 1,
        "one ticket's share"
    );
    let after = app
        .get(&format!("/admin/orders/{id}"), &auth)
        .await
        .expect(200);
    assert_eq!(after["status"], "partially_refunded");
    assert_eq!(sold(&app, &auth, &ev).await, 3, "kept off sale");
    app.post(
        &format!("/admin/orders/{id}/refunds"),
        &auth,
        json!({ "ticket_ids": [ticket] }),
    )
    .await
    .expect_problem(422, "ticket_not_refundable");
    app.post(
        &format!("/admin/orders/{id}/refunds"),
        &auth,
        json!({ "ticket_ids": ["nope"] }),
    )
    .await
    .expect_problem(422, "ticket_not_refundable");

    // Money only: tickets stay valid; never more than was paid.
    app.post(
        &format!("/admin/orders/{id}/refunds"),
        &auth,
        json!({ "amount": 5000 }),
    )
    .await
    .expect(201);
    let after = app
        .get(&format!("/admin/orders/{id}"), &auth)
        .await
        .expect(200);
    assert_eq!(
        after["tickets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["status"] == "valid")
            .count(),
        2
    );
    app.post(
        &format!("/admin/orders/{id}/refunds"),
        &auth,
        json!({ "amount": 10_000_000 }),
    )
    .await
    .expect_problem(422, "refund_exceeds_paid");
    app.post(
        &format!("/admin/orders/{id}/refunds"),
        &auth,
        json!({ "amount": -5 }),
    )
    .await
    .expect_problem(400, "validation_failed");

    // Roles and tenants.
    let (_, finance) = app.api_key(&owner, "finance").await;
    app.post(
        &format!("/admin/orders/{id}/refunds"),
        &Auth::bearer(&finance),
        json!({}),
    )
    .await
    .expect_problem(403, "forbidden");
    let stranger = app.signup("stranger@example.com").await;
    app.post(
        &format!("/admin/orders/{id}/refunds"),
        &Auth::bearer(&stranger.token),
        json!({}),
    )
    .await
    .expect_problem(404, "not_found");

    let audit = app.audit(&owner).await;
    crate::helpers::assert_exact(&audit);
}
