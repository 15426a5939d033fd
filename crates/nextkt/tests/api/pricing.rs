use serde_json::json;

use crate::helpers::{Auth, TestApp};
use crate::on_both_databases;

on_both_databases!(
    the_cart_shows_the_fee_tax_and_total,
    discount_codes_apply_and_are_rechecked,
    discount_codes_are_managed_and_kept_apart,
    fee_deals_come_from_organization_partner_or_platform,
);

async fn the_cart_shows_the_fee_tax_and_total(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    app.patch("/admin/organization", &auth, json!({ "tax_bps": 1000 }))
        .await
        .expect(200);
    let ev = app
        .ga_event(&owner, 10, json!({}), json!({ "price": 500000 }))
        .await;
    let added = app
        .add_to_cart(
            &owner.org_id,
            None,
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": 2 }),
        )
        .await
        .expect(201);
    let cart_auth = TestApp::cart_auth(&owner.org_id, added["cart_token"].as_str().unwrap());
    let cart = app.get("/consumer/cart", &cart_auth).await.expect(200);
    let p = &cart["pricing"];
    // Platform default: Rp 2,000 + 2.5 % per ticket, paid by the buyer.
    assert_eq!(p["subtotal"], 1_000_000);
    assert_eq!(p["lines"][0]["fee_per_ticket"], 14_500);
    assert_eq!(p["fee"], 29_000);
    assert_eq!(p["tax"], 100_000);
    assert_eq!(p["total"], 1_129_000);
    assert_eq!(cart["fee_payer"], "buyer");

    // The organizer absorbs it: out of the buyer's total.
    app.patch(
        &format!("/admin/events/{}", ev.event_id),
        &auth,
        json!({ "fee_payer": "organizer" }),
    )
    .await
    .expect(200);
    let cart = app.get("/consumer/cart", &cart_auth).await.expect(200);
    assert_eq!(cart["pricing"]["fee"], 0);
    assert_eq!(cart["pricing"]["fee_absorbed"], 29_000);
    assert_eq!(cart["pricing"]["total"], 1_100_000);
    app.patch("/admin/organization", &auth, json!({ "tax_bps": 9000 }))
        .await
        .expect_problem(400, "validation_failed");
}

async fn discount_codes_apply_and_are_rechecked(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app
        .ga_event(&owner, 20, json!({}), json!({ "price": 100000 }))
        .await;
    let vip = app
        .post(
            &format!("/admin/events/{}/ticket-types", ev.event_id),
            &auth,
            json!({ "name": "VIP", "price": 400000, "capacity": 5 }),
        )
        .await
        .expect(201);
    let now = nextkt::platform::clock::Clock::now_ms(app.clock.as_ref());
    let ends = nextkt::platform::clock::rfc3339(now + 3_600_000);
    app.post(
        "/admin/discounts",
        &auth,
        json!({ "code": "Vip25", "kind": "percent", "value": 2500, "ticket_type_ids": [vip["id"]], "min_quantity": 2, "ends_at": ends }),
    )
    .await
    .expect(201);
    let added = app
        .add_to_cart(
            &owner.org_id,
            None,
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": 3 }),
        )
        .await
        .expect(201);
    let token = added["cart_token"].as_str().unwrap().to_string();
    let cart_auth = TestApp::cart_auth(&owner.org_id, &token);
    // Nothing eligible yet.
    let refused = app
        .call(
            reqwest::Method::PUT,
            "/consumer/cart/discount",
            &cart_auth,
            Some(json!({ "code": "vip25" })),
        )
        .await
        .expect_problem(422, "discount_not_applicable");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("does not apply")
    );
    app.add_to_cart(
        &owner.org_id,
        Some(&token),
        json!({ "event_id": ev.event_id, "ticket_type_id": vip["id"], "quantity": 1 }),
    )
    .await
    .expect(201);
    let refused = app
        .call(
            reqwest::Method::PUT,
            "/consumer/cart/discount",
            &cart_auth,
            Some(json!({ "code": "VIP25" })),
        )
        .await
        .expect_problem(422, "discount_not_applicable");
    assert!(refused["detail"].as_str().unwrap().contains("at least 2"));
    app.add_to_cart(
        &owner.org_id,
        Some(&token),
        json!({ "event_id": ev.event_id, "ticket_type_id": vip["id"], "quantity": 1 }),
    )
    .await
    .expect(201);
    let cart = app
        .call(
            reqwest::Method::PUT,
            "/consumer/cart/discount",
            &cart_auth,
            Some(json!({ "code": "vip25" })),
        )
        .await
        .expect(200);
    assert_eq!(cart["discount"]["code"], "Vip25");
    assert_eq!(
        cart["pricing"]["discount"], 200_000,
        "25 % of the two VIP tickets only"
    );
    assert_eq!(cart["pricing"]["lines"][0]["discount"], 0);
    app.call(
        reqwest::Method::PUT,
        "/consumer/cart/discount",
        &cart_auth,
        Some(json!({ "code": "NOPE" })),
    )
    .await
    .expect_problem(404, "not_found");

    // Rechecked on every pricing: once expired, it drops out and says why.
    app.clock.advance_secs(3600);
    let cart = app.get("/consumer/cart", &cart_auth).await.expect(200);
    assert!(cart["discount"].is_null());
    assert!(
        cart["discount_problem"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    assert_eq!(cart["pricing"]["discount"], 0);
    let cart = app
        .call(
            reqwest::Method::DELETE,
            "/consumer/cart/discount",
            &cart_auth,
            None,
        )
        .await
        .expect(200);
    assert!(cart["discount_problem"].is_null());
}

async fn discount_codes_are_managed_and_kept_apart(app: TestApp) {
    let a = app.signup("a@example.com").await;
    let b = app.signup("b@example.com").await;
    let a_auth = Auth::bearer(&a.token);
    let created = app
        .post("/admin/discounts", &a_auth, json!({ "code": "EARLY", "kind": "fixed", "value": 50000, "currency": "IDR", "max_uses": 100 }))
        .await
        .expect(201);
    assert_eq!(created["active"], true);
    app.post(
        "/admin/discounts",
        &a_auth,
        json!({ "code": "early", "kind": "percent", "value": 10 }),
    )
    .await
    .expect_problem(409, "code_taken");
    for (body, field) in [
        (
            json!({ "code": "x", "kind": "percent", "value": 10 }),
            "code",
        ),
        (
            json!({ "code": "BAD CODE", "kind": "percent", "value": 10 }),
            "code",
        ),
        (
            json!({ "code": "PCT", "kind": "percent", "value": 10001 }),
            "value",
        ),
        (
            json!({ "code": "FIX", "kind": "fixed", "value": 100 }),
            "currency",
        ),
        (
            json!({ "code": "WIN", "kind": "percent", "value": 10, "starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z" }),
            "ends_at",
        ),
    ] {
        let problem = app
            .post("/admin/discounts", &a_auth, body)
            .await
            .expect_problem(400, "validation_failed");
        assert_eq!(problem["field"], field);
    }
    let id = created["id"].as_str().unwrap();
    let disabled = app
        .patch(
            &format!("/admin/discounts/{id}"),
            &a_auth,
            json!({ "active": false }),
        )
        .await
        .expect(200);
    assert_eq!(disabled["active"], false);
    let list = app.get("/admin/discounts", &a_auth).await.expect(200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // B sees none of it, and can reuse the code.
    let b_auth = Auth::bearer(&b.token);
    app.get(&format!("/admin/discounts/{id}"), &b_auth)
        .await
        .expect_problem(404, "not_found");
    app.patch(
        &format!("/admin/discounts/{id}"),
        &b_auth,
        json!({ "active": true }),
    )
    .await
    .expect_problem(404, "not_found");
    app.post(
        "/admin/discounts",
        &b_auth,
        json!({ "code": "EARLY", "kind": "percent", "value": 500 }),
    )
    .await
    .expect(201);
    // A's code does nothing at B's storefront.
    let ev = app.ga_event(&b, 5, json!({}), json!({})).await;
    let added = app
        .add_to_cart(
            &b.org_id,
            None,
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id }),
        )
        .await
        .expect(201);
    let cart = app
        .call(
            reqwest::Method::PUT,
            "/consumer/cart/discount",
            &TestApp::cart_auth(&b.org_id, added["cart_token"].as_str().unwrap()),
            Some(json!({ "code": "early" })),
        )
        .await
        .expect(200);
    assert_eq!(cart["discount"]["kind"], "percent", "B's own EARLY");
    let (_, viewer) = app.api_key(&a, "viewer").await;
    app.post(
        "/admin/discounts",
        &Auth::bearer(&viewer),
        json!({ "code": "VIEW", "kind": "percent", "value": 5 }),
    )
    .await
    .expect_problem(403, "forbidden");
}

async fn fee_deals_come_from_organization_partner_or_platform(app: TestApp) {
    let kisum_key = app.partner("Kisum").await;
    let kisum = Auth::bearer(&kisum_key);
    let created = app
        .post(
            "/partner/organizations",
            &kisum,
            json!({ "name": "K", "external_ref": "k" }),
        )
        .await
        .expect(201);
    let org_id = created["organization"]["id"].as_str().unwrap().to_string();
    let key = Auth::bearer(created["api_key"]["secret"].as_str().unwrap());
    let fee = app.get("/admin/platform-fee", &key).await.expect(200);
    assert_eq!(fee["source"], "platform");
    assert_eq!(fee["deal"]["bps"], 250);

    // The partner's deal, set on the command line.
    let partner_id: String = sqlx::query_scalar("SELECT id FROM partners")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let url = app.state.config.database.database_url.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_nextkt"))
            .args([
                "partner",
                "fee",
                &partner_id,
                "--bps",
                "150",
                "--fixed",
                "1000",
                "--database-url",
                &url,
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fee = app.get("/admin/platform-fee", &key).await.expect(200);
    assert_eq!(
        (fee["source"].as_str(), fee["deal"]["bps"].as_i64()),
        (Some("partner"), Some(150))
    );

    // The organization's own deal wins; clearing it falls back to the partner's.
    let path = format!("/partner/organizations/{org_id}/fee");
    let fee = app
        .call(
            reqwest::Method::PUT,
            &path,
            &kisum,
            Some(json!({ "fixed": 0, "bps": 100, "min": 1000, "max": 5000, "currency": "IDR" })),
        )
        .await
        .expect(200);
    assert_eq!(fee["source"], "organization");
    app.call(
        reqwest::Method::PUT,
        &path,
        &kisum,
        Some(json!({ "fixed": 0, "bps": 100, "min": 9000, "max": 5000, "currency": "IDR" })),
    )
    .await
    .expect_problem(400, "validation_failed");
    let ev = app.ga_event_with_key(&key, 5, 200000).await;
    let added = app
        .add_to_cart(
            &org_id,
            None,
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id }),
        )
        .await
        .expect(201);
    let cart = app
        .get(
            "/consumer/cart",
            &TestApp::cart_auth(&org_id, added["cart_token"].as_str().unwrap()),
        )
        .await
        .expect(200);
    assert_eq!(
        cart["pricing"]["fee"], 2000,
        "1 % of 200,000, within 1,000–5,000"
    );
    let fee = app
        .call(reqwest::Method::DELETE, &path, &kisum, None)
        .await
        .expect(200);
    assert_eq!(fee["source"], "partner");
    let other = Auth::bearer(&app.partner("Other").await);
    app.call(reqwest::Method::DELETE, &path, &other, None)
        .await
        .expect_problem(404, "not_found");
}
