use reqwest::Method;
use serde_json::json;

use crate::helpers::{Auth, TestApp};
use crate::on_both_databases;

on_both_databases!(every_role_by_api_key, operator_roles_follow_membership);

const ROLES: [&str; 6] = ["owner", "admin", "manager", "finance", "gate", "viewer"];

async fn every_role_by_api_key(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    for role in ROLES {
        let (_, secret) = app.api_key(&owner, role).await;
        let auth = Auth::bearer(&secret);
        let administers = matches!(role, "owner" | "admin");
        let admin_status = |ok: u16| if administers { ok } else { 403 };

        let checks: Vec<(Method, &str, Option<serde_json::Value>, u16)> = vec![
            (Method::GET, "/admin/organization", None, 200),
            (Method::GET, "/admin/members", None, 200),
            (
                Method::PATCH,
                "/admin/organization",
                Some(json!({ "name": format!("Renamed by {role}") })),
                admin_status(200),
            ),
            (
                Method::POST,
                "/admin/members",
                Some(json!({ "email": format!("{role}-invitee@example.com"), "role": "viewer" })),
                admin_status(201),
            ),
            (Method::GET, "/admin/api-keys", None, admin_status(200)),
            (
                Method::POST,
                "/admin/api-keys",
                Some(json!({ "name": "made by key", "role": "viewer" })),
                admin_status(201),
            ),
            (
                Method::GET,
                "/admin/storefront-keys",
                None,
                admin_status(200),
            ),
            (
                Method::POST,
                "/admin/storefront-keys",
                Some(json!({ "name": "shop" })),
                admin_status(201),
            ),
            (Method::GET, "/admin/audit-log", None, admin_status(200)),
        ];
        for (method, path, body, expected) in checks {
            let resp = app.call(method.clone(), path, &auth, body).await;
            assert_eq!(
                resp.status, expected,
                "{role} {method} {path}: {:#}",
                resp.body
            );
            if expected == 403 {
                assert_eq!(resp.code(), "forbidden");
            }
        }
        let me = app.get("/admin/me", &auth).await.expect(200);
        assert_eq!(me["kind"], "api_key");
        assert_eq!(me["api_key"]["role"], role);
        assert_eq!(me["organization"]["id"], owner.org_id.as_str());
    }

    // Granting the owner role takes an owner.
    let (_, admin_key) = app.api_key(&owner, "admin").await;
    let admin = Auth::bearer(&admin_key);
    app.post(
        "/admin/api-keys",
        &admin,
        json!({ "name": "x", "role": "owner" }),
    )
    .await
    .expect_problem(403, "forbidden");
    app.post(
        "/admin/members",
        &admin,
        json!({ "email": "boss@example.com", "role": "owner" }),
    )
    .await
    .expect_problem(403, "forbidden");
    app.patch(
        &format!("/admin/members/{}", owner.operator_id),
        &admin,
        json!({ "role": "viewer" }),
    )
    .await
    .expect_problem(403, "forbidden");
    app.delete(&format!("/admin/members/{}", owner.operator_id), &admin)
        .await
        .expect_problem(403, "forbidden");
    let owner_auth = Auth::bearer(&owner.token);
    app.post(
        "/admin/api-keys",
        &owner_auth,
        json!({ "name": "x", "role": "owner" }),
    )
    .await
    .expect(201);
}

async fn operator_roles_follow_membership(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let owner_auth = Auth::bearer(&owner.token);
    let member = app
        .post(
            "/admin/members",
            &owner_auth,
            json!({ "email": "Mia@Example.com", "role": "manager" }),
        )
        .await
        .expect(201);
    assert_eq!(member["status"], "invited");
    assert_eq!(member["email"], "mia@example.com");
    let invite = app.last_email("operator_invite", "mia@example.com").await;
    let accepted = app
        .post(
            "/admin/auth/accept-invite",
            &Auth::None,
            json!({ "token": invite["token"], "name": "Mia", "password": "mia's password" }),
        )
        .await
        .expect(200);
    assert_eq!(accepted["memberships"][0]["role"], "manager");
    // The invitation works once.
    app.post(
        "/admin/auth/accept-invite",
        &Auth::None,
        json!({ "token": invite["token"], "name": "Eve", "password": "eve's password!" }),
    )
    .await
    .expect_problem(400, "invalid_token");

    let mia = Auth::bearer(accepted["tokens"]["access_token"].as_str().unwrap());
    app.get("/admin/organization", &mia).await.expect(200);
    app.patch("/admin/organization", &mia, json!({ "name": "Mine now" }))
        .await
        .expect_problem(403, "forbidden");
    app.get("/admin/audit-log", &mia)
        .await
        .expect_problem(403, "forbidden");

    // Promoted to admin, the same token may now administer.
    app.patch(
        &format!("/admin/members/{}", member["operator_id"].as_str().unwrap()),
        &owner_auth,
        json!({ "role": "admin" }),
    )
    .await
    .expect(200);
    app.patch("/admin/organization", &mia, json!({ "name": "Renamed" }))
        .await
        .expect(200);

    // Removed, the operator can no longer act for the organization.
    app.delete(
        &format!("/admin/members/{}", member["operator_id"].as_str().unwrap()),
        &owner_auth,
    )
    .await
    .expect(204);
    app.get("/admin/organization", &mia)
        .await
        .expect_problem(403, "no_organization");
}
