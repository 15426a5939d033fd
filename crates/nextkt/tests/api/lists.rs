//! Every list answers the same page: `{"items": [...], "next_cursor": "..."}`, with `limit`
//! and `cursor`, and following the cursors visits every item once.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::gate::{checkin_list, device, transfer};
use crate::helpers::{Auth, TestApp};
use crate::on_both_databases;

on_both_databases!(every_list_answers_pages);

/// Reads a list one item per page; the ids in order. Checks the page shape on the way.
async fn walk(app: &TestApp, path: &str, auth: &Auth) -> Vec<String> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit=1&cursor={c}"),
            None => format!("{path}{sep}limit=1"),
        };
        let page = app.get(&url, auth).await.expect(200);
        let items = page["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{path} answers a page: {page:#}"));
        assert!(items.len() <= 1, "{path}: limit is kept");
        ids.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_string()));
        match page.get("next_cursor").and_then(Value::as_str) {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
        assert!(ids.len() < 100, "{path}: the cursor moves on");
    }
    ids
}

async fn every_list_answers_pages(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app
        .ga_event(
            &owner,
            20,
            json!({ "mode": "mixed" }),
            json!({ "price": 0 }),
        )
        .await;
    let e = &ev.event_id;
    let vip = app
        .post(
            &format!("/admin/events/{e}/ticket-types"),
            &auth,
            json!({ "name": "VIP", "price": 0, "kind": "seated", "sort_order": -1 }),
        )
        .await
        .expect(201);
    app.post(
        &format!("/admin/events/{e}/ticket-types"),
        &auth,
        json!({ "name": "Late", "price": 0, "capacity": 5, "sort_order": 7 }),
    )
    .await
    .expect(201);
    for (name, row, sort) in [("Front", "A", 2), ("Back", "B", 1), ("Side", "C", 2)] {
        app.post(
            &format!("/admin/events/{e}/sections"),
            &auth,
            json!({ "name": name, "ticket_type_id": vip["id"], "layout": [format!("{row}:1-2")], "sort_order": sort }),
        )
        .await
        .expect(201);
    }
    for name in ["Ana", "Budi"] {
        app.post(
            &format!("/admin/events/{e}/guest-list"),
            &auth,
            json!({ "name": name, "email": format!("{name}@example.com"), "ticket_type_id": ev.ticket_type_id, "send_email": false }),
        )
        .await
        .expect(201);
    }
    let list = checkin_list(&app, &auth, e, "Main").await;
    checkin_list(&app, &auth, e, "Backstage").await;
    let dev = device(&app, &auth, &[&list]).await;
    device(&app, &auth, &[&list]).await;
    let when = nextkt::platform::clock::rfc3339(
        nextkt::platform::clock::Clock::now_ms(app.clock.as_ref()) - 60_000,
    );
    app.post(
        "/gate/scans:batch",
        &dev,
        json!({ "scans": [
            { "nonce": "c1", "code": "forged-1", "scanned_at": when, "device_result": "valid" },
            { "nonce": "c2", "code": "forged-2", "scanned_at": when, "device_result": "valid" },
        ]}),
    )
    .await
    .expect(200);
    for _ in 0..2 {
        app.post(&format!("/admin/events/{e}/signing-keys"), &auth, json!({}))
            .await
            .expect(201);
    }
    let (_, buyer_token, _) = app.buyer(&owner.org_id, "budi@example.com").await;
    let buyer = Auth::buyer(&owner.org_id, &buyer_token);
    let added = app
        .post(
            "/consumer/cart/items",
            &buyer,
            json!({ "event_id": e, "ticket_type_id": ev.ticket_type_id, "quantity": 3 }),
        )
        .await
        .expect(201);
    let Auth::Headers(mut with_cart) = buyer.clone() else {
        unreachable!()
    };
    with_cart.push((
        "x-cart-token".into(),
        added["cart_token"].as_str().unwrap().into(),
    ));
    let order = app
        .post("/consumer/checkout", &Auth::Headers(with_cart), json!({}))
        .await
        .expect(201);
    let ticket = order["order"]["tickets"][0].clone();
    let moved = transfer(&app, &auth, &ticket, "Sari", "sari@example.com").await;
    transfer(&app, &auth, &moved, "Eko", "eko@example.com").await;
    let ticket_id = ticket["id"].as_str().unwrap();

    let lists = [
        (format!("/admin/events/{e}/ticket-types"), auth.clone(), 3),
        (format!("/admin/events/{e}/sections"), auth.clone(), 3),
        (format!("/admin/events/{e}/guest-list"), auth.clone(), 2),
        (format!("/admin/events/{e}/checkin-lists"), auth.clone(), 2),
        (format!("/admin/events/{e}/scan-conflicts"), auth.clone(), 2),
        (format!("/admin/events/{e}/signing-keys"), auth.clone(), 3),
        (
            format!("/admin/tickets/{ticket_id}/transfers"),
            auth.clone(),
            2,
        ),
        ("/admin/devices".to_string(), auth.clone(), 2),
        ("/consumer/tickets".to_string(), buyer.clone(), 3),
    ];
    for (path, who, expected) in &lists {
        let whole = app.get(path, who).await.expect(200);
        let all: Vec<String> = whole["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{path} answers a page: {whole:#}"))
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(all.len(), *expected, "{path}: {whole:#}");
        assert!(
            whole.get("next_cursor").is_none_or(Value::is_null),
            "{path}: one page"
        );
        let walked = walk(&app, path, who).await;
        assert_eq!(walked, all, "{path}: pages visit every item once, in order");
        assert_eq!(walked.iter().collect::<HashSet<_>>().len(), walked.len());
        for bad in ["limit=0", "limit=201", "cursor=%25%25"] {
            let sep = if path.contains('?') { '&' } else { '?' };
            app.get(&format!("{path}{sep}{bad}"), who)
                .await
                .expect_problem(400, "validation_failed");
        }
    }
    // Lists in the operator's order keep it across pages.
    let types = app
        .get(&format!("/admin/events/{e}/ticket-types"), &auth)
        .await
        .expect(200);
    let names: Vec<&str> = types["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["VIP", "GA", "Late"]);
    let sections = app
        .get(&format!("/admin/events/{e}/sections"), &auth)
        .await
        .expect(200);
    let names: Vec<&str> = sections["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Back", "Front", "Side"]);
}
