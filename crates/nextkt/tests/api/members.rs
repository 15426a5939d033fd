use serde_json::json;

use crate::helpers::{Auth, TestApp};
use crate::on_both_databases;

on_both_databases!(
    the_last_owner_stays,
    existing_operators_join_and_choose_an_organization,
    members_list_pages,
);

async fn the_last_owner_stays(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let path = format!("/admin/members/{}", owner.operator_id);
    app.patch(&path, &auth, json!({ "role": "admin" }))
        .await
        .expect_problem(422, "last_owner");
    app.delete(&path, &auth)
        .await
        .expect_problem(422, "last_owner");

    // With a second owner, the first may step down.
    let second = app.signup("second@example.com").await;
    app.post(
        "/admin/members",
        &auth,
        json!({ "email": second.email, "role": "owner" }),
    )
    .await
    .expect(201);
    app.patch(&path, &auth, json!({ "role": "admin" }))
        .await
        .expect(200);
    let second_auth = Auth::Headers(vec![
        ("authorization".into(), format!("Bearer {}", second.token)),
        ("x-organization".into(), owner.org_id.clone()),
    ]);
    let second_path = format!("/admin/members/{}", second.operator_id);
    app.delete(&second_path, &second_auth)
        .await
        .expect_problem(422, "last_owner");
    app.post(
        "/admin/members",
        &auth,
        json!({ "email": "x@example.com", "role": "bogus" }),
    )
    .await
    .expect_problem(400, "invalid_body");
    app.patch(
        &format!("/admin/members/{}", "no-such-operator"),
        &second_auth,
        json!({ "role": "viewer" }),
    )
    .await
    .expect_problem(404, "not_found");
}

async fn existing_operators_join_and_choose_an_organization(app: TestApp) {
    let ana = app.signup("ana@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let added = app
        .post(
            "/admin/members",
            &Auth::bearer(&ana.token),
            json!({ "email": "bob@example.com", "role": "viewer" }),
        )
        .await
        .expect(201);
    assert_eq!(
        added["status"], "active",
        "an existing account joins at once"
    );
    app.post(
        "/admin/members",
        &Auth::bearer(&ana.token),
        json!({ "email": "bob@example.com", "role": "admin" }),
    )
    .await
    .expect_problem(409, "already_member");

    // Bob belongs to two organizations now and must say which one he acts in.
    let bob_auth = Auth::bearer(&bob.token);
    app.get("/admin/organization", &bob_auth)
        .await
        .expect_problem(400, "organization_required");
    let in_ana = Auth::Headers(vec![
        ("authorization".into(), format!("Bearer {}", bob.token)),
        ("x-organization".into(), ana.org_id.clone()),
    ]);
    let org = app.get("/admin/organization", &in_ana).await.expect(200);
    assert_eq!(org["id"], ana.org_id.as_str());
    app.patch("/admin/organization", &in_ana, json!({ "name": "x" }))
        .await
        .expect_problem(403, "forbidden");
    let in_own = Auth::Headers(vec![
        ("authorization".into(), format!("Bearer {}", bob.token)),
        ("x-organization".into(), bob.org_id.clone()),
    ]);
    app.patch("/admin/organization", &in_own, json!({ "name": "Bob's" }))
        .await
        .expect(200);
}

async fn members_list_pages(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    for i in 0..4 {
        app.post(
            "/admin/members",
            &auth,
            json!({ "email": format!("m{i}@example.com"), "role": "viewer" }),
        )
        .await
        .expect(201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/admin/members?limit=2&cursor={c}"),
            None => "/admin/members?limit=2".to_string(),
        };
        let page = app.get(&path, &auth).await.expect(200);
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|m| m["email"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    seen.sort();
    let mut expected: Vec<String> = (0..4).map(|i| format!("m{i}@example.com")).collect();
    expected.push("owner@example.com".into());
    expected.sort();
    assert_eq!(seen, expected, "every member exactly once across pages");
    app.get("/admin/members?limit=0", &auth)
        .await
        .expect_problem(400, "validation_failed");
    app.get("/admin/members?cursor=***", &auth)
        .await
        .expect_problem(400, "validation_failed");
}
