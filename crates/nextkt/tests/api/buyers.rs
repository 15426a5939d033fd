use serde_json::json;

use crate::helpers::{Auth, TestApp};
use crate::on_both_databases;

on_both_databases!(
    buyers_register_login_and_see_themselves,
    buyer_sessions_refresh_and_logout,
    password_reset_by_emailed_token,
    email_verification,
    buyer_accounts_belong_to_one_storefront,
    buyer_auth_is_rate_limited,
);

async fn buyers_register_login_and_see_themselves(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let store = Auth::Internal(owner.org_id.clone());
    let registered = app
        .post(
            "/consumer/auth/register",
            &store,
            json!({ "email": "Budi@Example.com", "password": "buyer password 1", "name": "Budi", "locale": "id" }),
        )
        .await
        .expect(201);
    assert_eq!(registered["buyer"]["email"], "budi@example.com");
    assert_eq!(
        registered["buyer"]["organization_id"],
        owner.org_id.as_str()
    );
    assert_eq!(registered["buyer"]["email_verified"], false);
    let token = registered["tokens"]["access_token"].as_str().unwrap();
    assert!(token.starts_with("nkt_ba_"));

    let me = app
        .get("/consumer/me", &Auth::buyer(&owner.org_id, token))
        .await
        .expect(200);
    assert_eq!(me["email"], "budi@example.com");

    app.post(
        "/consumer/auth/register",
        &store,
        json!({ "email": "budi@example.com", "password": "another password", "name": "Budi 2" }),
    )
    .await
    .expect_problem(409, "email_taken");

    let login = app
        .post(
            "/consumer/auth/login",
            &store,
            json!({ "email": "budi@example.com", "password": "buyer password 1" }),
        )
        .await
        .expect(200);
    assert_eq!(login["buyer"]["id"], registered["buyer"]["id"]);
    app.post(
        "/consumer/auth/login",
        &store,
        json!({ "email": "budi@example.com", "password": "wrong password" }),
    )
    .await
    .expect_problem(401, "invalid_credentials");

    // /consumer/me needs a buyer.
    app.get("/consumer/me", &store)
        .await
        .expect_problem(401, "buyer_login_required");
    // Operator tokens are not buyer tokens.
    app.get("/consumer/me", &Auth::buyer(&owner.org_id, &owner.token))
        .await
        .expect_problem(401, "buyer_login_required");
    for (body, code) in [
        (
            json!({ "email": "x", "password": "buyer password 1", "name": "X" }),
            "validation_failed",
        ),
        (
            json!({ "email": "x@example.com", "password": "short", "name": "X" }),
            "validation_failed",
        ),
        (
            json!({ "email": "x@example.com", "password": "buyer password 1", "name": "X", "locale": "fr" }),
            "validation_failed",
        ),
        (
            json!({ "email": "x@example.com", "password": "buyer password 1" }),
            "invalid_body",
        ),
    ] {
        app.post("/consumer/auth/register", &store, body)
            .await
            .expect_problem(400, code);
    }
    assert_eq!(app.count("buyers").await, 1);
}

async fn buyer_sessions_refresh_and_logout(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let store = Auth::Internal(owner.org_id.clone());
    let (_, access, refresh) = app.buyer(&owner.org_id, "budi@example.com").await;
    let pair = app
        .post(
            "/consumer/auth/refresh",
            &store,
            json!({ "refresh_token": refresh }),
        )
        .await
        .expect(200);
    // The same shape as login's answer.
    assert_eq!(pair["buyer"]["email"], "budi@example.com");
    let new_access = pair["tokens"]["access_token"].as_str().unwrap().to_string();
    app.get("/consumer/me", &Auth::buyer(&owner.org_id, &access))
        .await
        .expect_problem(401, "invalid_credentials");
    let me_auth = Auth::buyer(&owner.org_id, &new_access);
    app.get("/consumer/me", &me_auth).await.expect(200);
    app.post("/consumer/auth/logout", &me_auth, json!({}))
        .await
        .expect(204);
    app.get("/consumer/me", &me_auth)
        .await
        .expect_problem(401, "invalid_credentials");
    app.post(
        "/consumer/auth/refresh",
        &store,
        json!({ "refresh_token": pair["tokens"]["refresh_token"] }),
    )
    .await
    .expect_problem(401, "invalid_credentials");
}

async fn password_reset_by_emailed_token(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let store = Auth::Internal(owner.org_id.clone());
    let (_, access, _) = app.buyer(&owner.org_id, "budi@example.com").await;
    let outbox_before = app.count("outbox").await;
    // Unknown emails get the same answer and no email.
    app.post(
        "/consumer/auth/password-reset",
        &store,
        json!({ "email": "nobody@example.com" }),
    )
    .await
    .expect(202);
    assert_eq!(app.count("outbox").await, outbox_before);
    app.post(
        "/consumer/auth/password-reset",
        &store,
        json!({ "email": "BUDI@example.com" }),
    )
    .await
    .expect(202);
    let email = app
        .last_email("buyer_password_reset", "budi@example.com")
        .await;
    let token = email["token"].as_str().unwrap();

    app.post(
        "/consumer/auth/password-reset/confirm",
        &store,
        json!({ "token": token, "password": "short" }),
    )
    .await
    .expect_problem(400, "validation_failed");
    app.post(
        "/consumer/auth/password-reset/confirm",
        &store,
        json!({ "token": token, "password": "a brand new password" }),
    )
    .await
    .expect(204);
    // Once only.
    app.post(
        "/consumer/auth/password-reset/confirm",
        &store,
        json!({ "token": token, "password": "yet another password" }),
    )
    .await
    .expect_problem(400, "invalid_token");
    // Old logins end; the new password works, the old one does not.
    app.get("/consumer/me", &Auth::buyer(&owner.org_id, &access))
        .await
        .expect_problem(401, "invalid_credentials");
    app.post(
        "/consumer/auth/login",
        &store,
        json!({ "email": "budi@example.com", "password": "buyer password 1" }),
    )
    .await
    .expect_problem(401, "invalid_credentials");
    app.post(
        "/consumer/auth/login",
        &store,
        json!({ "email": "budi@example.com", "password": "a brand new password" }),
    )
    .await
    .expect(200);

    // Tokens expire after an hour.
    app.post(
        "/consumer/auth/password-reset",
        &store,
        json!({ "email": "budi@example.com" }),
    )
    .await
    .expect(202);
    let late = app
        .last_email("buyer_password_reset", "budi@example.com")
        .await;
    app.clock.advance_secs(3601);
    app.post(
        "/consumer/auth/password-reset/confirm",
        &store,
        json!({ "token": late["token"], "password": "too late password" }),
    )
    .await
    .expect_problem(400, "invalid_token");
}

async fn email_verification(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let store = Auth::Internal(owner.org_id.clone());
    let (_, access, _) = app.buyer(&owner.org_id, "budi@example.com").await;
    let email = app
        .last_email("buyer_verify_email", "budi@example.com")
        .await;
    app.post(
        "/consumer/auth/verify-email",
        &store,
        json!({ "token": "nkt_ot_nonsense" }),
    )
    .await
    .expect_problem(400, "invalid_token");
    app.post(
        "/consumer/auth/verify-email",
        &store,
        json!({ "token": email["token"] }),
    )
    .await
    .expect(204);
    let me = app
        .get("/consumer/me", &Auth::buyer(&owner.org_id, &access))
        .await
        .expect(200);
    assert_eq!(me["email_verified"], true);
}

async fn buyer_accounts_belong_to_one_storefront(app: TestApp) {
    let a = app.signup("a@example.com").await;
    let b = app.signup("b@example.com").await;
    let (_, a_token, a_refresh) = app.buyer(&a.org_id, "budi@example.com").await;
    // The same email is a separate account at another storefront.
    let (_, b_token, _) = app.buyer(&b.org_id, "budi@example.com").await;
    app.get("/consumer/me", &Auth::buyer(&b.org_id, &a_token))
        .await
        .expect_problem(401, "invalid_credentials");
    app.get("/consumer/me", &Auth::buyer(&a.org_id, &b_token))
        .await
        .expect_problem(401, "invalid_credentials");
    app.post(
        "/consumer/auth/refresh",
        &Auth::Internal(b.org_id.clone()),
        json!({ "refresh_token": a_refresh }),
    )
    .await
    .expect_problem(401, "invalid_credentials");
    // ... and that attempt did not use up the token at its own storefront.
    app.post(
        "/consumer/auth/refresh",
        &Auth::Internal(a.org_id.clone()),
        json!({ "refresh_token": a_refresh }),
    )
    .await
    .expect(200);

    // A reset token from one storefront does nothing at another.
    let store_a = Auth::Internal(a.org_id.clone());
    app.post(
        "/consumer/auth/password-reset",
        &store_a,
        json!({ "email": "budi@example.com" }),
    )
    .await
    .expect(202);
    let email = app
        .last_email("buyer_password_reset", "budi@example.com")
        .await;
    app.post(
        "/consumer/auth/password-reset/confirm",
        &Auth::Internal(b.org_id.clone()),
        json!({ "token": email["token"], "password": "hijacked password" }),
    )
    .await
    .expect_problem(400, "invalid_token");
    app.post(
        "/consumer/auth/password-reset/confirm",
        &store_a,
        json!({ "token": email["token"], "password": "legit new password" }),
    )
    .await
    .expect(204);
}

async fn buyer_auth_is_rate_limited(app: TestApp) {
    let app = crate::helpers::spawn_app_with(app.backend, |c| {
        c.auth_rate_per_ip = 4;
        c.auth_rate_per_account = 100;
    })
    .await;
    let owner = app.signup("owner@example.com").await;
    let store = Auth::Internal(owner.org_id.clone());
    let mut statuses = Vec::new();
    for i in 0..6 {
        let resp = app
            .post(
                "/consumer/auth/password-reset",
                &store,
                json!({ "email": format!("p{i}@example.com") }),
            )
            .await;
        if resp.status == 429 {
            assert!(resp.headers.get("retry-after").is_some());
        }
        statuses.push(resp.status);
    }
    // The operator sign-up above was the first attempt from this IP.
    assert_eq!(statuses, [202, 202, 202, 429, 429, 429]);
}
