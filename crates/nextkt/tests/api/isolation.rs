//! Two organizations side by side: every id of the other answers 404 and changes nothing.

use serde_json::json;

use crate::helpers::{Auth, TestApp};
use crate::on_both_databases;

on_both_databases!(other_organizations_ids_answer_404);

async fn other_organizations_ids_answer_404(app: TestApp) {
    let a = app.signup("a@example.com").await;
    let b = app.signup("b@example.com").await;
    let a_auth = Auth::bearer(&a.token);
    let b_auth = Auth::bearer(&b.token);
    let (b_key_id, b_key) = app.api_key(&b, "viewer").await;
    let b_storefront = app
        .post("/admin/storefront-keys", &b_auth, json!({ "name": "shop" }))
        .await
        .expect(201);
    let b_member = app
        .post(
            "/admin/members",
            &b_auth,
            json!({ "email": "bm@example.com", "role": "viewer" }),
        )
        .await
        .expect(201);
    let b_member_id = b_member["operator_id"].as_str().unwrap();
    let (_, a_key) = app.api_key(&a, "owner").await;
    let audit_before = app.count("audit_log").await;

    for auth in [&a_auth, &Auth::bearer(&a_key)] {
        app.patch(
            &format!("/admin/members/{b_member_id}"),
            auth,
            json!({ "role": "admin" }),
        )
        .await
        .expect_problem(404, "not_found");
        app.delete(&format!("/admin/members/{b_member_id}"), auth)
            .await
            .expect_problem(404, "not_found");
        app.patch(
            &format!("/admin/members/{}", b.operator_id),
            auth,
            json!({ "role": "viewer" }),
        )
        .await
        .expect_problem(404, "not_found");
        app.delete(&format!("/admin/api-keys/{b_key_id}"), auth)
            .await
            .expect_problem(404, "not_found");
        app.delete(
            &format!(
                "/admin/storefront-keys/{}",
                b_storefront["id"].as_str().unwrap()
            ),
            auth,
        )
        .await
        .expect_problem(404, "not_found");
    }
    // Naming the other organization is 404 too, never 403.
    let a_in_b = Auth::Headers(vec![
        ("authorization".into(), format!("Bearer {}", a.token)),
        ("x-organization".into(), b.org_id.clone()),
    ]);
    app.get("/admin/organization", &a_in_b)
        .await
        .expect_problem(404, "not_found");

    // Lists show only the caller's own.
    let a_keys = app.get("/admin/api-keys", &a_auth).await.expect(200);
    assert!(
        a_keys["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["id"] != b_key_id.as_str())
    );
    let a_members = app.get("/admin/members", &a_auth).await.expect(200);
    assert_eq!(a_members["items"].as_array().unwrap().len(), 1);
    let a_log = app.get("/admin/audit-log", &a_auth).await.expect(200);
    assert!(!a_log.to_string().contains(&b.org_id));

    // Nothing of B changed.
    assert_eq!(app.count("audit_log").await, audit_before);
    app.get("/admin/organization", &Auth::bearer(&b_key))
        .await
        .expect(200);
    let b_members = app.get("/admin/members", &b_auth).await.expect(200);
    assert!(
        b_members["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["role"] == "viewer")
    );
}
