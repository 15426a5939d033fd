use serde_json::json;

use crate::helpers::{Auth, TestApp};
use crate::on_both_databases;

on_both_databases!(operators_search_cancel_and_resend_orders);

async fn operators_search_cancel_and_resend_orders(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app
        .ga_event(&owner, 5, json!({}), json!({ "price": 100000 }))
        .await;
    app.post(
        "/admin/discounts",
        &auth,
        json!({ "code": "ONE", "kind": "percent", "value": 1000, "max_uses": 1 }),
    )
    .await
    .expect(201);
    let mut orders = Vec::new();
    for (email, quantity) in [("a@example.com", 2), ("b@example.com", 1)] {
        let added = app
            .add_to_cart(&owner.org_id, None, json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": quantity }))
            .await
            .expect(201);
        let cart = TestApp::cart_auth(&owner.org_id, added["cart_token"].as_str().unwrap());
        if email == "a@example.com" {
            app.call(
                reqwest::Method::PUT,
                "/consumer/cart/discount",
                &cart,
                Some(json!({ "code": "ONE" })),
            )
            .await
            .expect(200);
        }
        orders.push(
            app.post(
                "/consumer/checkout",
                &cart,
                json!({ "email": email, "name": "N" }),
            )
            .await
            .expect(201),
        );
    }
    let found = app
        .get("/admin/orders?email=A@example.com", &auth)
        .await
        .expect(200);
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get("/admin/orders?status=pending_payment", &auth)
            .await
            .expect(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        app.get(&format!("/admin/orders?event_id={}", ev.event_id), &auth)
            .await
            .expect(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Cancelling returns the holds, the code's use; paid orders cannot be cancelled.
    let a = orders[0]["order"]["id"].as_str().unwrap();
    let cancelled = app
        .post(&format!("/admin/orders/{a}/cancel"), &auth, json!({}))
        .await
        .expect(200);
    assert_eq!(cancelled["status"], "cancelled");
    app.post(&format!("/admin/orders/{a}/cancel"), &auth, json!({}))
        .await
        .expect_problem(422, "order_not_pending");
    let types = app
        .get(
            &format!("/admin/events/{}/ticket-types", ev.event_id),
            &auth,
        )
        .await
        .expect(200)["items"]
        .clone();
    assert_eq!(types[0]["held"], 1, "only B's hold is left");
    let uses: i64 = sqlx::query_scalar("SELECT uses FROM discounts")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(uses, 0);
    app.post(&format!("/admin/orders/{a}/resend"), &auth, json!({}))
        .await
        .expect_problem(422, "order_not_paid");

    // Resend a paid order's confirmation.
    let b = orders[1]["order"]["id"].as_str().unwrap();
    assert_eq!(
        app.pay_by_webhook(&orders[1]["order"]["payments"][0]).await,
        "paid"
    );
    app.post(&format!("/admin/orders/{b}/resend"), &auth, json!({}))
        .await
        .expect(202);
    let sent: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE template = 'order_confirmation'")
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(sent, 2);

    // Roles and tenants.
    let (_, gate) = app.api_key(&owner, "gate").await;
    app.get("/admin/orders", &Auth::bearer(&gate))
        .await
        .expect_problem(403, "forbidden");
    let (_, finance) = app.api_key(&owner, "finance").await;
    app.get(&format!("/admin/orders/{b}"), &Auth::bearer(&finance))
        .await
        .expect(200);
    app.post(
        &format!("/admin/orders/{b}/resend"),
        &Auth::bearer(&finance),
        json!({}),
    )
    .await
    .expect_problem(403, "forbidden");
    let stranger = app.signup("stranger@example.com").await;
    app.get(
        &format!("/admin/orders/{b}"),
        &Auth::bearer(&stranger.token),
    )
    .await
    .expect_problem(404, "not_found");
    let audit = app.audit(&owner).await;
    crate::helpers::assert_exact(&audit);
}
