use nextkt::platform::clock::Clock;
use serde_json::json;

use crate::helpers::{Auth, TestApp};
use crate::on_both_databases;

on_both_databases!(
    keys_are_shown_once_used_and_revoked,
    keys_expire,
    test_mode_keys_are_marked,
    audit_log_records_changes,
);

async fn keys_are_shown_once_used_and_revoked(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let created = app
        .post(
            "/admin/api-keys",
            &auth,
            json!({ "name": "Kisum", "role": "manager" }),
        )
        .await
        .expect(201);
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("nkt_live_"));
    assert!(secret.starts_with(created["prefix"].as_str().unwrap()));
    assert_eq!(created["status"], "active");

    let key_auth = Auth::bearer(secret);
    app.get("/admin/organization", &key_auth).await.expect(200);

    let list = app.get("/admin/api-keys", &auth).await.expect(200);
    let listed = &list["items"][0];
    assert_eq!(listed["id"], created["id"]);
    assert!(listed.get("secret").is_none(), "lists never show secrets");
    assert!(listed["last_used_at"].is_string(), "use is recorded");
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE secret_hash = $1")
        .bind(secret.to_string())
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "the secret itself is not stored");

    app.delete(
        &format!("/admin/api-keys/{}", created["id"].as_str().unwrap()),
        &auth,
    )
    .await
    .expect(204);
    app.get("/admin/organization", &key_auth)
        .await
        .expect_problem(401, "invalid_credentials");
    let list = app.get("/admin/api-keys", &auth).await.expect(200);
    assert_eq!(list["items"][0]["status"], "revoked");
    app.delete("/admin/api-keys/does-not-exist", &auth)
        .await
        .expect_problem(404, "not_found");
    // A storefront key is not an API key.
    let storefront = app
        .post("/admin/storefront-keys", &auth, json!({ "name": "shop" }))
        .await
        .expect(201);
    assert!(
        storefront["secret"]
            .as_str()
            .unwrap()
            .starts_with("nkt_sf_live_")
    );
    app.get(
        "/admin/organization",
        &Auth::bearer(storefront["secret"].as_str().unwrap()),
    )
    .await
    .expect_problem(401, "invalid_credentials");
    app.delete(
        &format!("/admin/api-keys/{}", storefront["id"].as_str().unwrap()),
        &auth,
    )
    .await
    .expect_problem(404, "not_found");
}

async fn keys_expire(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    // Operator access tokens expire within the hour this test skips; keys without expiry don't.
    let (_, admin_key) = app.api_key(&owner, "admin").await;
    let auth = Auth::bearer(&admin_key);
    let in_an_hour = nextkt::platform::clock::rfc3339(app.clock.now_ms() + 3_600_000);
    let created = app
        .post(
            "/admin/api-keys",
            &auth,
            json!({ "name": "temp", "role": "viewer", "expires_at": in_an_hour }),
        )
        .await
        .expect(201);
    let key = Auth::bearer(created["secret"].as_str().unwrap());
    app.get("/admin/organization", &key).await.expect(200);
    app.clock.advance_secs(3601);
    app.get("/admin/organization", &key)
        .await
        .expect_problem(401, "credential_expired");
    let list = app.get("/admin/api-keys", &auth).await.expect(200);
    assert_eq!(list["items"][0]["status"], "expired");
    assert_eq!(list["items"][1]["status"], "active");

    let past = nextkt::platform::clock::rfc3339(app.clock.now_ms() - 1000);
    app.post(
        "/admin/api-keys",
        &auth,
        json!({ "name": "x", "role": "viewer", "expires_at": past }),
    )
    .await
    .expect_problem(400, "validation_failed");
    app.post(
        "/admin/api-keys",
        &auth,
        json!({ "name": "x", "role": "viewer", "expires_at": "tomorrow" }),
    )
    .await
    .expect_problem(400, "validation_failed");
}

async fn test_mode_keys_are_marked(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let created = app
        .post(
            "/admin/api-keys",
            &Auth::bearer(&owner.token),
            json!({ "name": "sandbox", "role": "admin", "mode": "test" }),
        )
        .await
        .expect(201);
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("nkt_test_"));
    assert_eq!(created["mode"], "test");
    let me = app
        .get("/admin/me", &Auth::bearer(secret))
        .await
        .expect(200);
    assert_eq!(me["api_key"]["mode"], "test");
}

async fn audit_log_records_changes(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let (key_id, key) = app.api_key(&owner, "admin").await;
    app.patch(
        "/admin/organization",
        &Auth::bearer(&key),
        json!({ "timezone": "Asia/Makassar" }),
    )
    .await
    .expect(200);
    let log = app.get("/admin/audit-log", &auth).await.expect(200);
    let entries = log["items"].as_array().unwrap();
    let update = &entries[0];
    assert_eq!(update["action"], "organization.updated");
    assert_eq!(update["actor_kind"], "api_key");
    assert_eq!(update["actor_id"], key_id.as_str());
    assert_eq!(update["before"]["timezone"], "Asia/Jakarta");
    assert_eq!(update["after"]["timezone"], "Asia/Makassar");
    let created = &entries[1];
    assert_eq!(created["action"], "api_key.created");
    assert_eq!(created["actor_kind"], "operator");
    assert_eq!(created["actor_id"], owner.operator_id.as_str());
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "organization.created"),
        "sign-up is recorded"
    );
    // Secrets never reach the audit log.
    assert!(!log.to_string().contains(&key));
}
