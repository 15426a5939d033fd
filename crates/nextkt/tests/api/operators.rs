use serde_json::json;

use crate::helpers::{Auth, TestApp};
use crate::on_both_databases;

on_both_databases!(
    signup_login_and_me,
    refresh_rotates_and_detects_reuse,
    logout_revokes_the_login,
    access_tokens_expire,
    signup_rejects_bad_input_and_duplicates,
    login_is_rate_limited,
);

async fn signup_login_and_me(app: TestApp) {
    let ana = app.signup("ana@example.com").await;
    let me = app
        .get("/admin/me", &Auth::bearer(&ana.token))
        .await
        .expect(200);
    assert_eq!(me["kind"], "operator");
    assert_eq!(me["operator"]["email"], "ana@example.com");
    assert_eq!(me["memberships"][0]["organization_id"], ana.org_id.as_str());
    assert_eq!(me["memberships"][0]["role"], "owner");

    // Email is case-insensitive; the password is not.
    let login = app
        .post(
            "/admin/auth/login",
            &Auth::None,
            json!({ "email": "ANA@example.com", "password": "correct horse battery" }),
        )
        .await
        .expect(200);
    assert_eq!(login["operator"]["id"], ana.operator_id.as_str());
    assert_eq!(login["memberships"][0]["role"], "owner");
    let token = login["tokens"]["access_token"].as_str().unwrap();
    app.get("/admin/organization", &Auth::bearer(token))
        .await
        .expect(200);

    app.post(
        "/admin/auth/login",
        &Auth::None,
        json!({ "email": "ana@example.com", "password": "Correct horse battery" }),
    )
    .await
    .expect_problem(401, "invalid_credentials");
    app.post(
        "/admin/auth/login",
        &Auth::None,
        json!({ "email": "nobody@example.com", "password": "correct horse battery" }),
    )
    .await
    .expect_problem(401, "invalid_credentials");

    app.get("/admin/me", &Auth::None)
        .await
        .expect_problem(401, "missing_credentials");
    app.get("/admin/me", &Auth::bearer("nkt_oa_forged"))
        .await
        .expect_problem(401, "invalid_credentials");
    app.get("/admin/me", &Auth::bearer("something-else"))
        .await
        .expect_problem(401, "invalid_credentials");
}

async fn refresh_rotates_and_detects_reuse(app: TestApp) {
    let ana = app.signup("ana@example.com").await;
    let pair = app
        .post(
            "/admin/auth/refresh",
            &Auth::None,
            json!({ "refresh_token": ana.refresh_token }),
        )
        .await
        .expect(200);
    // The same shape as login's answer.
    assert_eq!(pair["operator"]["email"], "ana@example.com");
    assert!(pair["memberships"].is_array());
    let new_access = pair["tokens"]["access_token"].as_str().unwrap().to_string();
    let new_refresh = pair["tokens"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_refresh, ana.refresh_token);
    app.get("/admin/me", &Auth::bearer(&new_access))
        .await
        .expect(200);
    // The old access token was retired with its pair.
    app.get("/admin/me", &Auth::bearer(&ana.token))
        .await
        .expect_problem(401, "invalid_credentials");

    // Replaying the old refresh token is refused and ends the whole login.
    app.post(
        "/admin/auth/refresh",
        &Auth::None,
        json!({ "refresh_token": ana.refresh_token }),
    )
    .await
    .expect_problem(401, "invalid_credentials");
    app.get("/admin/me", &Auth::bearer(&new_access))
        .await
        .expect_problem(401, "invalid_credentials");
    app.post(
        "/admin/auth/refresh",
        &Auth::None,
        json!({ "refresh_token": new_refresh }),
    )
    .await
    .expect_problem(401, "invalid_credentials");
}

async fn logout_revokes_the_login(app: TestApp) {
    let ana = app.signup("ana@example.com").await;
    app.post("/admin/auth/logout", &Auth::bearer(&ana.token), json!({}))
        .await
        .expect(204);
    app.get("/admin/me", &Auth::bearer(&ana.token))
        .await
        .expect_problem(401, "invalid_credentials");
    app.post(
        "/admin/auth/refresh",
        &Auth::None,
        json!({ "refresh_token": ana.refresh_token }),
    )
    .await
    .expect_problem(401, "invalid_credentials");
}

async fn access_tokens_expire(app: TestApp) {
    let ana = app.signup("ana@example.com").await;
    app.clock
        .advance_secs(app.state.config.access_token_ttl_secs + 1);
    app.get("/admin/me", &Auth::bearer(&ana.token))
        .await
        .expect_problem(401, "token_expired");
    // The refresh token still works and gives a working access token.
    let pair = app
        .post(
            "/admin/auth/refresh",
            &Auth::None,
            json!({ "refresh_token": ana.refresh_token }),
        )
        .await
        .expect(200);
    app.get(
        "/admin/me",
        &Auth::bearer(pair["tokens"]["access_token"].as_str().unwrap()),
    )
    .await
    .expect(200);
    app.clock
        .advance_secs(app.state.config.refresh_token_ttl_secs + 1);
    app.post(
        "/admin/auth/refresh",
        &Auth::None,
        json!({ "refresh_token": pair["tokens"]["refresh_token"] }),
    )
    .await
    .expect_problem(401, "token_expired");
}

async fn signup_rejects_bad_input_and_duplicates(app: TestApp) {
    app.signup("ana@example.com").await;
    let before = (
        app.count("operators").await,
        app.count("organizations").await,
    );
    let base = json!({
        "email": "new@example.com", "password": "correct horse battery",
        "name": "New", "organization_name": "New Org"
    });
    for (field, value, code) in [
        ("email", json!("not-an-email"), "validation_failed"),
        ("password", json!("short"), "validation_failed"),
        ("name", json!("   "), "validation_failed"),
        ("organization_name", json!(""), "validation_failed"),
        ("email", json!(42), "invalid_body"),
    ] {
        let mut body = base.clone();
        body[field] = value;
        let problem = app
            .post("/admin/auth/signup", &Auth::None, body)
            .await
            .expect_problem(400, code);
        if code == "validation_failed" {
            assert_eq!(problem["field"], field);
        }
    }
    let mut dup = base.clone();
    dup["email"] = json!("ANA@example.com");
    app.post("/admin/auth/signup", &Auth::None, dup)
        .await
        .expect_problem(409, "email_taken");
    assert_eq!(
        (
            app.count("operators").await,
            app.count("organizations").await
        ),
        before,
        "refused sign-ups write nothing"
    );
}

async fn login_is_rate_limited(app: TestApp) {
    // The shared harness allows many attempts; this server allows few.
    let app = crate::helpers::spawn_app_with(app.backend, |c| {
        c.auth_rate_per_account = 3;
        c.auth_rate_per_ip = 100;
    })
    .await;
    app.signup("ana@example.com").await;
    let wrong = json!({ "email": "ana@example.com", "password": "wrong password!" });
    for _ in 0..3 {
        app.post("/admin/auth/login", &Auth::None, wrong.clone())
            .await
            .expect_problem(401, "invalid_credentials");
    }
    let limited = app.post("/admin/auth/login", &Auth::None, wrong).await;
    assert!(limited.headers.contains_key("retry-after"));
    limited.expect_problem(429, "rate_limited");
    // Even the right password waits: the limit is on attempts.
    app.post(
        "/admin/auth/login",
        &Auth::None,
        json!({ "email": "ana@example.com", "password": "correct horse battery" }),
    )
    .await
    .expect_problem(429, "rate_limited");
    // Another account from the same IP is not limited.
    app.post(
        "/admin/auth/login",
        &Auth::None,
        json!({ "email": "bob@example.com", "password": "whatever password" }),
    )
    .await
    .expect_problem(401, "invalid_credentials");
}
