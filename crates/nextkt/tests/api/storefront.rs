use serde_json::json;

use crate::helpers::{Auth, INTERNAL_KEY, TestApp};
use crate::on_both_databases;

on_both_databases!(
    storefront_credentials,
    storefront_keys_open_one_organization
);

fn reset(email: &str) -> serde_json::Value {
    json!({ "email": email })
}

async fn storefront_credentials(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let path = "/consumer/auth/password-reset";
    app.post(path, &Auth::None, reset("a@example.com"))
        .await
        .expect_problem(401, "missing_credentials");
    app.post(
        path,
        &Auth::Headers(vec![
            ("x-internal-api-key".into(), "wrong-key-wrong-key".into()),
            ("x-tenant".into(), owner.org_id.clone()),
        ]),
        reset("a@example.com"),
    )
    .await
    .expect_problem(401, "invalid_credentials");
    app.post(
        path,
        &Auth::Internal("no-such-organization".into()),
        reset("a@example.com"),
    )
    .await
    .expect_problem(404, "not_found");
    app.post(
        path,
        &Auth::Headers(vec![("x-internal-api-key".into(), INTERNAL_KEY.into())]),
        reset("a@example.com"),
    )
    .await
    .expect_problem(400, "tenant_required");
    app.post(
        path,
        &Auth::Internal(owner.org_id.clone()),
        reset("a@example.com"),
    )
    .await
    .expect(202);
    // An operator token or API key is not a storefront credential.
    app.post(path, &Auth::bearer(&owner.token), reset("a@example.com"))
        .await
        .expect_problem(401, "missing_credentials");

    // With no internal key configured, that way in is closed.
    let closed = crate::helpers::spawn_app_with(app.backend, |c| c.internal_api_key = None).await;
    let other = closed.signup("owner@example.com").await;
    closed
        .post(
            path,
            &Auth::Internal(other.org_id.clone()),
            reset("a@example.com"),
        )
        .await
        .expect_problem(401, "invalid_credentials");
}

async fn storefront_keys_open_one_organization(app: TestApp) {
    let a = app.signup("a@example.com").await;
    let b = app.signup("b@example.com").await;
    let key = app
        .post(
            "/admin/storefront-keys",
            &Auth::bearer(&a.token),
            json!({ "name": "shop" }),
        )
        .await
        .expect(201);
    let secret = key["secret"].as_str().unwrap().to_string();
    let store = Auth::bearer(&secret);
    let registered = app
        .post(
            "/consumer/auth/register",
            &store,
            json!({ "email": "budi@example.com", "password": "buyer password 1", "name": "Budi" }),
        )
        .await
        .expect(201);
    assert_eq!(registered["buyer"]["organization_id"], a.org_id.as_str());
    // With a buyer logged in, the key moves to X-Storefront-Key.
    let buyer_token = registered["tokens"]["access_token"].as_str().unwrap();
    let me = app
        .get(
            "/consumer/me",
            &Auth::Headers(vec![
                ("x-storefront-key".into(), secret.clone()),
                ("authorization".into(), format!("Bearer {buyer_token}")),
            ]),
        )
        .await
        .expect(200);
    assert_eq!(me["email"], "budi@example.com");
    // ... or the buyer token moves to X-Buyer-Token.
    app.get(
        "/consumer/me",
        &Auth::Headers(vec![
            ("authorization".into(), format!("Bearer {secret}")),
            ("x-buyer-token".into(), buyer_token.to_string()),
        ]),
    )
    .await
    .expect(200);
    // The key speaks for its own organization only.
    app.post(
        "/consumer/auth/password-reset",
        &Auth::Headers(vec![
            ("authorization".into(), format!("Bearer {secret}")),
            ("x-tenant".into(), b.org_id.clone()),
        ]),
        reset("budi@example.com"),
    )
    .await
    .expect_problem(404, "not_found");

    app.delete(
        &format!("/admin/storefront-keys/{}", key["id"].as_str().unwrap()),
        &Auth::bearer(&a.token),
    )
    .await
    .expect(204);
    app.post(
        "/consumer/auth/password-reset",
        &store,
        reset("budi@example.com"),
    )
    .await
    .expect_problem(401, "invalid_credentials");
}
