//! The simulated provider gives tickets away, so what it sells is marked as test, live
//! storefront keys may not sell through it unless allowed, and buyers return to the
//! storefront after paying.

use serde_json::{Value, json};

use crate::helpers::{Auth, GaEvent, TestApp, spawn_app_with};
use crate::on_both_databases;

on_both_databases!(
    simulated_payments_make_test_orders_and_live_keys_are_refused,
    buyers_return_to_the_storefront_after_paying,
    the_pay_form_answers_bad_input_as_problems,
);

async fn storefront_key(app: &TestApp, owner_token: &str, mode: &str) -> String {
    let key = app
        .post(
            "/admin/storefront-keys",
            &Auth::bearer(owner_token),
            json!({ "name": format!("shop {mode}"), "mode": mode }),
        )
        .await
        .expect(201);
    key["secret"].as_str().unwrap().to_string()
}

async fn checkout_with(
    app: &TestApp,
    store: &str,
    ev: &GaEvent,
    extra: Value,
) -> crate::helpers::Resp {
    let added = app
        .post(
            "/consumer/cart/items",
            &Auth::bearer(store),
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id }),
        )
        .await
        .expect(201);
    let cart = Auth::Headers(vec![
        ("authorization".into(), format!("Bearer {store}")),
        (
            "x-cart-token".into(),
            added["cart_token"].as_str().unwrap().into(),
        ),
    ]);
    let mut body = json!({ "email": "a@example.com", "name": "A" });
    crate::helpers::merge(&mut body, extra);
    app.post("/consumer/checkout", &cart, body).await
}

async fn simulated_payments_make_test_orders_and_live_keys_are_refused(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let ev = app.ga_event(&owner, 10, json!({}), json!({})).await;
    let live = storefront_key(&app, &owner.token, "live").await;
    let test = storefront_key(&app, &owner.token, "test").await;

    let orders = app.count("orders").await;
    checkout_with(&app, &live, &ev, json!({}))
        .await
        .expect_problem(503, "live_payments_unavailable");
    assert_eq!(app.count("orders").await, orders, "nothing written");

    let answer = checkout_with(&app, &test, &ev, json!({})).await.expect(201);
    assert_eq!(answer["order"]["livemode"], false);
    assert_eq!(
        app.pay_by_webhook(&answer["order"]["payments"][0]).await,
        "paid"
    );
    let id = answer["order"]["id"].as_str().unwrap();
    let order = app
        .get(&format!("/admin/orders/{id}"), &Auth::bearer(&owner.token))
        .await
        .expect(200);
    assert_eq!(order["livemode"], false);
    assert_eq!(order["tickets"][0]["livemode"], false);
    let page = app
        .ticket_json(order["tickets"][0]["code"].as_str().unwrap())
        .await;
    assert_eq!(page["livemode"], false, "{page}");

    // The platform can allow it; the orders are test orders all the same.
    let allowed = spawn_app_with(app.backend, |c| c.allow_simulated_for_live_keys = true).await;
    let owner = allowed.signup("owner@example.com").await;
    let ev = allowed.ga_event(&owner, 10, json!({}), json!({})).await;
    let live = storefront_key(&allowed, &owner.token, "live").await;
    let answer = checkout_with(&allowed, &live, &ev, json!({}))
        .await
        .expect(201);
    assert_eq!(answer["order"]["livemode"], false);

    // A server never starts with the documentation's example internal key.
    let mut config = crate::helpers::test_config("sqlite://unused.db".into());
    config.internal_api_key = Some("change-me-internal-key".into());
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("example"), "{err}");
}

async fn buyers_return_to_the_storefront_after_paying(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let ev = app.ga_event(&owner, 10, json!({}), json!({})).await;
    let test = storefront_key(&app, &owner.token, "test").await;
    for bad in [
        "javascript:alert(1)",
        "http://shop.example.com/done",
        "ftp://shop.example.com/",
        "https://user:pw@shop.example.com/",
        "/relative/path",
    ] {
        checkout_with(&app, &test, &ev, json!({ "return_url": bad }))
            .await
            .expect_problem(400, "validation_failed");
    }
    let answer = checkout_with(
        &app,
        &test,
        &ev,
        json!({ "return_url": "https://shop.example.com/orders/done?o=1" }),
    )
    .await
    .expect(201);
    let payment = &answer["order"]["payments"][0];
    let pay_page = payment["redirect_url"].as_str().unwrap().to_string();
    let page = reqwest::get(&pay_page).await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"pay\""), "the pay button");
    assert!(!page.contains("id=\"back\""), "no way back before paying");
    // Pressing "Pay" on the page, as a buyer would.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .unwrap();
    let after = client
        .post(&pay_page)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("outcome=paid")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(after.contains(">paid<"), "{after}");
    assert!(
        after.contains("href=\"https://shop.example.com/orders/done?o=1\""),
        "{after}"
    );

    // Without a return URL the buyer lands on the payment's own page, not the API root.
    let answer = checkout_with(&app, &test, &ev, json!({})).await.expect(201);
    let pay_page = answer["order"]["payments"][0]["redirect_url"]
        .as_str()
        .unwrap()
        .to_string();
    let status = reqwest::get(&pay_page).await.unwrap().status();
    assert_eq!(status, 200);
}

async fn the_pay_form_answers_bad_input_as_problems(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let ev = app.ga_event(&owner, 10, json!({}), json!({})).await;
    let test = storefront_key(&app, &owner.token, "test").await;
    let answer = checkout_with(&app, &test, &ev, json!({})).await.expect(201);
    let pay_page = answer["order"]["payments"][0]["redirect_url"]
        .as_str()
        .unwrap()
        .to_string();
    for (content_type, body) in [
        ("application/x-www-form-urlencoded", "nothing=here"),
        ("text/plain", "outcome=paid"),
    ] {
        let resp = reqwest::Client::new()
            .post(&pay_page)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{content_type} {body}");
        assert_eq!(
            resp.headers()["content-type"],
            "application/problem+json",
            "{content_type} {body}"
        );
    }
    let page = reqwest::get(&pay_page).await.unwrap().text().await.unwrap();
    assert!(page.contains(">pending<"), "nothing changed");
}
