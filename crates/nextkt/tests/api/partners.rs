use serde_json::json;

use crate::helpers::{Auth, TestApp};
use crate::on_both_databases;

on_both_databases!(
    provisioning_is_idempotent_on_the_external_ref,
    partners_see_only_their_organizations,
    partners_rotate_and_revoke_keys,
    suspension_stops_every_credential,
);

async fn provisioning_is_idempotent_on_the_external_ref(app: TestApp) {
    let kisum = Auth::bearer(&app.partner("Kisum").await);
    let created = app
        .post(
            "/partner/organizations",
            &kisum,
            json!({ "name": "Java Jazz", "external_ref": "company-42", "id": "company-42" }),
        )
        .await
        .expect(201);
    assert_eq!(created["organization"]["id"], "company-42");
    assert_eq!(created["organization"]["external_ref"], "company-42");
    assert_eq!(created["created"], true);
    let secret = created["api_key"]["secret"].as_str().unwrap().to_string();
    assert!(created["api_key"]["id"].is_string());
    assert!(secret.starts_with(created["api_key"]["prefix"].as_str().unwrap()));

    // The first key drives the operator API headlessly, as an admin.
    let me = app
        .get("/admin/me", &Auth::bearer(&secret))
        .await
        .expect(200);
    assert_eq!(me["organization"]["id"], "company-42");
    assert_eq!(me["api_key"]["role"], "admin");

    let replay = app
        .post(
            "/partner/organizations",
            &kisum,
            json!({ "name": "Java Jazz", "external_ref": "company-42", "id": "company-42" }),
        )
        .await
        .expect(200);
    assert_eq!(replay["organization"]["id"], "company-42");
    assert!(replay["api_key"].is_null(), "no second secret");
    assert_eq!(replay["created"], false);
    assert_eq!(app.count("api_keys").await, 1);

    app.post(
        "/partner/organizations",
        &kisum,
        json!({ "name": "Java Jazz", "external_ref": "company-42", "id": "company-43" }),
    )
    .await
    .expect_problem(409, "external_ref_conflict");

    // A generated id when none is chosen.
    let generated = app
        .post(
            "/partner/organizations",
            &kisum,
            json!({ "name": "Other", "external_ref": "company-7" }),
        )
        .await
        .expect(201);
    assert_eq!(generated["organization"]["id"].as_str().unwrap().len(), 36);

    // Another partner can't take an id that exists.
    let other = Auth::bearer(&app.partner("Other partner").await);
    app.post(
        "/partner/organizations",
        &other,
        json!({ "name": "Squatter", "external_ref": "x", "id": "company-42" }),
    )
    .await
    .expect_problem(409, "organization_id_taken");
    for bad_id in ["", "has space", "a/b"] {
        app.post(
            "/partner/organizations",
            &kisum,
            json!({ "name": "Bad", "external_ref": "bad", "id": bad_id }),
        )
        .await
        .expect_problem(400, "validation_failed");
    }
    let orgs = app.count("organizations").await;
    assert_eq!(orgs, 2, "refused provisioning wrote nothing");

    app.post(
        "/partner/organizations",
        &Auth::bearer("nkt_partner_forged"),
        json!({ "name": "x", "external_ref": "y" }),
    )
    .await
    .expect_problem(401, "invalid_credentials");
    // An organization API key has no partner powers.
    app.get("/partner/organizations", &Auth::bearer(&secret))
        .await
        .expect_problem(401, "invalid_credentials");
}

async fn partners_see_only_their_organizations(app: TestApp) {
    let kisum = Auth::bearer(&app.partner("Kisum").await);
    let other = Auth::bearer(&app.partner("Other").await);
    for i in 0..3 {
        app.post(
            "/partner/organizations",
            &kisum,
            json!({ "name": format!("K{i}"), "external_ref": format!("k{i}") }),
        )
        .await
        .expect(201);
    }
    let theirs = app
        .post(
            "/partner/organizations",
            &other,
            json!({ "name": "O", "external_ref": "k0" }),
        )
        .await
        .expect(201);
    let their_id = theirs["organization"]["id"].as_str().unwrap();
    // The self-serve organizations are nobody's.
    app.signup("ana@example.com").await;

    let page1 = app
        .get("/partner/organizations?limit=2", &kisum)
        .await
        .expect(200);
    assert_eq!(page1["items"].as_array().unwrap().len(), 2);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2 = app
        .get(
            &format!("/partner/organizations?limit=2&cursor={cursor}"),
            &kisum,
        )
        .await
        .expect(200);
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert!(page2["next_cursor"].is_null());
    let names: Vec<&str> = page1["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["items"].as_array().unwrap())
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["K2", "K1", "K0"]);

    for path in [
        format!("/partner/organizations/{their_id}"),
        format!("/partner/organizations/{their_id}/api-keys"),
    ] {
        app.get(&path, &kisum)
            .await
            .expect_problem(404, "not_found");
    }
    app.post(
        &format!("/partner/organizations/{their_id}/suspend"),
        &kisum,
        json!({}),
    )
    .await
    .expect_problem(404, "not_found");
    app.post(
        &format!("/partner/organizations/{their_id}/api-keys"),
        &kisum,
        json!({}),
    )
    .await
    .expect_problem(404, "not_found");
    app.get(&format!("/partner/organizations/{their_id}"), &other)
        .await
        .expect(200);
}

async fn partners_rotate_and_revoke_keys(app: TestApp) {
    let kisum = Auth::bearer(&app.partner("Kisum").await);
    let created = app
        .post(
            "/partner/organizations",
            &kisum,
            json!({ "name": "K", "external_ref": "k" }),
        )
        .await
        .expect(201);
    let org_id = created["organization"]["id"].as_str().unwrap();
    let first = Auth::bearer(created["api_key"]["secret"].as_str().unwrap());

    let second = app
        .post(
            &format!("/partner/organizations/{org_id}/api-keys"),
            &kisum,
            json!({ "name": "second" }),
        )
        .await
        .expect(201);
    let second_auth = Auth::bearer(second["secret"].as_str().unwrap());
    app.get("/admin/me", &first).await.expect(200);
    app.get("/admin/me", &second_auth).await.expect(200);

    let rotated = app
        .post(
            &format!("/partner/organizations/{org_id}/api-keys"),
            &kisum,
            json!({ "revoke_others": true }),
        )
        .await
        .expect(201);
    app.get("/admin/me", &first)
        .await
        .expect_problem(401, "invalid_credentials");
    app.get("/admin/me", &second_auth)
        .await
        .expect_problem(401, "invalid_credentials");
    let third = Auth::bearer(rotated["secret"].as_str().unwrap());
    app.get("/admin/me", &third).await.expect(200);

    let keys = app
        .get(&format!("/partner/organizations/{org_id}/api-keys"), &kisum)
        .await
        .expect(200);
    let statuses: Vec<&str> = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["active", "revoked", "revoked"]);

    app.delete(
        &format!(
            "/partner/organizations/{org_id}/api-keys/{}",
            rotated["id"].as_str().unwrap()
        ),
        &kisum,
    )
    .await
    .expect(204);
    app.get("/admin/me", &third)
        .await
        .expect_problem(401, "invalid_credentials");

    // The audit log names the partner.
    let fresh = app
        .post(
            &format!("/partner/organizations/{org_id}/api-keys"),
            &kisum,
            json!({}),
        )
        .await
        .expect(201);
    let log = app
        .get(
            "/admin/audit-log",
            &Auth::bearer(fresh["secret"].as_str().unwrap()),
        )
        .await
        .expect(200);
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor_kind"] == "partner" && e["action"] == "api_key.revoked")
    );
}

async fn suspension_stops_every_credential(app: TestApp) {
    let kisum = Auth::bearer(&app.partner("Kisum").await);
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
    let storefront = app
        .post("/admin/storefront-keys", &key, json!({ "name": "shop" }))
        .await
        .expect(201);
    let storefront_auth = Auth::bearer(storefront["secret"].as_str().unwrap());
    app.post(
        "/consumer/auth/register",
        &storefront_auth,
        json!({ "email": "b@example.com", "password": "buyer password 1", "name": "B" }),
    )
    .await
    .expect(201);

    let suspended = app
        .post(
            &format!("/partner/organizations/{org_id}/suspend"),
            &kisum,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(suspended["status"], "suspended");
    app.get("/admin/me", &key)
        .await
        .expect_problem(403, "organization_suspended");
    app.post(
        "/consumer/auth/login",
        &storefront_auth,
        json!({ "email": "b@example.com", "password": "buyer password 1" }),
    )
    .await
    .expect_problem(403, "organization_suspended");
    app.post(
        "/consumer/auth/login",
        &Auth::Internal(org_id.clone()),
        json!({ "email": "b@example.com", "password": "buyer password 1" }),
    )
    .await
    .expect_problem(403, "organization_suspended");
    // The partner still sees it, and can resume it.
    app.get(&format!("/partner/organizations/{org_id}"), &kisum)
        .await
        .expect(200);
    app.post(
        &format!("/partner/organizations/{org_id}/resume"),
        &kisum,
        json!({}),
    )
    .await
    .expect(200);
    app.get("/admin/me", &key).await.expect(200);
}
