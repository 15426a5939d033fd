use serde_json::json;

use crate::helpers::{Auth, TestApp};
use crate::on_both_databases;

on_both_databases!(
    events_are_created_checked_and_published,
    ticket_types_and_capacity_changes,
    seat_maps_and_hotspots,
    storefront_catalog_filters_and_pages,
    hidden_and_private_inventory,
    catalog_ids_of_other_tenants_answer_404,
);

async fn events_are_created_checked_and_published(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let event = app
        .post(
            "/admin/events",
            &auth,
            json!({
                "title": { "en": "Java Jazz", "id": "Jazz Jawa" },
                "description": { "en": "Three nights" },
                "starts_at": "2030-03-01T19:00:00+07:00",
                "ends_at": "2030-03-01T23:00:00+07:00",
                "timezone": "Asia/Jakarta",
                "venue": { "id": "kisum-venue-1", "name": "JIExpo", "city": "Jakarta", "capacity": 5000 },
                "artist_ids": ["kisum-artist-7"],
                "max_per_order": 6, "max_per_buyer": 10, "hold_minutes": 8
            }),
        )
        .await
        .expect(201);
    assert_eq!(event["status"], "draft");
    assert_eq!(event["title"]["id"], "Jazz Jawa");
    assert_eq!(event["starts_at"], "2030-03-01T12:00:00Z");
    assert_eq!(event["hold_minutes"], 8);
    assert_eq!(event["mode"], "ga");
    let id = event["id"].as_str().unwrap();

    // Nothing to sell yet.
    app.post(&format!("/admin/events/{id}/publish"), &auth, json!({}))
        .await
        .expect_problem(422, "no_ticket_types");
    app.post(
        &format!("/admin/events/{id}/ticket-types"),
        &auth,
        json!({ "name": "GA", "price": 1, "capacity": 10 }),
    )
    .await
    .expect(201);
    let published = app
        .post(&format!("/admin/events/{id}/publish"), &auth, json!({}))
        .await
        .expect(200);
    assert_eq!(published["status"], "published");
    app.post(&format!("/admin/events/{id}/publish"), &auth, json!({}))
        .await
        .expect_problem(422, "invalid_transition");
    app.post(&format!("/admin/events/{id}/unpublish"), &auth, json!({}))
        .await
        .expect(200);
    app.post(&format!("/admin/events/{id}/cancel"), &auth, json!({}))
        .await
        .expect(200);
    app.post(&format!("/admin/events/{id}/publish"), &auth, json!({}))
        .await
        .expect_problem(422, "invalid_transition");

    let before = app.count("events").await;
    for (body, field) in [
        (
            json!({ "starts_at": "2030-03-01T19:00:00Z", "ends_at": "2030-03-01T23:00:00Z" }),
            "title",
        ),
        (
            json!({ "title": { "en": "x" }, "starts_at": "2030-03-01T19:00:00Z", "ends_at": "2030-03-01T18:00:00Z" }),
            "ends_at",
        ),
        (
            json!({ "title": { "fr": "x" }, "starts_at": "2030-03-01T19:00:00Z", "ends_at": "2030-03-01T23:00:00Z" }),
            "title",
        ),
        (
            json!({ "title": { "en": "x" }, "starts_at": "soon", "ends_at": "2030-03-01T23:00:00Z" }),
            "starts_at",
        ),
        (
            json!({ "title": { "en": "x" }, "starts_at": "2030-03-01T19:00:00Z", "ends_at": "2030-03-01T23:00:00Z", "timezone": "Mars/Base" }),
            "timezone",
        ),
        (
            json!({ "title": { "en": "x" }, "starts_at": "2030-03-01T19:00:00Z", "ends_at": "2030-03-01T23:00:00Z", "hold_minutes": 0 }),
            "hold_minutes",
        ),
        (
            json!({ "title": { "en": "x" }, "starts_at": "2030-03-01T19:00:00Z", "ends_at": "2030-03-01T23:00:00Z", "max_per_order": -1 }),
            "max_per_order",
        ),
        (
            json!({ "title": { "en": "x" }, "starts_at": "2030-03-01T19:00:00Z", "ends_at": "2030-03-01T23:00:00Z", "max_per_order": 9, "max_per_buyer": 4 }),
            "max_per_order",
        ),
    ] {
        let resp = app.post("/admin/events", &auth, body).await;
        // A well-shaped zone name the time zone database does not know is refused too.
        let problem = resp.expect_problem(400, "validation_failed");
        assert_eq!(problem["field"], field);
    }
    assert_eq!(app.count("events").await, before);

    // Viewers read, managers write.
    let (_, viewer) = app.api_key(&owner, "viewer").await;
    app.get(&format!("/admin/events/{id}"), &Auth::bearer(&viewer))
        .await
        .expect(200);
    app.patch(
        &format!("/admin/events/{id}"),
        &Auth::bearer(&viewer),
        json!({ "hold_minutes": 5 }),
    )
    .await
    .expect_problem(403, "forbidden");
    let (_, manager) = app.api_key(&owner, "manager").await;
    app.patch(
        &format!("/admin/events/{id}"),
        &Auth::bearer(&manager),
        json!({ "hold_minutes": 5 }),
    )
    .await
    .expect(200);
    // A GA event cannot turn seated while it has GA types.
    app.patch(
        &format!("/admin/events/{id}"),
        &auth,
        json!({ "mode": "seated" }),
    )
    .await
    .expect_problem(422, "mode_conflict");
    let log = app.get("/admin/audit-log", &auth).await.expect(200);
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "event.published")
    );
}

async fn ticket_types_and_capacity_changes(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app.ga_event(&owner, 5, json!({}), json!({})).await;
    let path = format!("/admin/ticket-types/{}", ev.ticket_type_id);
    // Hold 3 of 5.
    app.add_to_cart(
        &owner.org_id,
        None,
        json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": 3 }),
    )
    .await
    .expect(201);
    app.patch(&path, &auth, json!({ "capacity": 2 }))
        .await
        .expect_problem(422, "capacity_below_committed");
    let tt = app
        .patch(&path, &auth, json!({ "capacity": 3 }))
        .await
        .expect(200);
    assert_eq!(tt["capacity"], 3);
    assert_eq!(tt["held"], 3);
    app.add_to_cart(
        &owner.org_id,
        None,
        json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id }),
    )
    .await
    .expect_problem(409, "sold_out");
    let tt = app
        .patch(&path, &auth, json!({ "capacity": 4, "price": 750000 }))
        .await
        .expect(200);
    assert_eq!(tt["price"], 750000);
    app.add_to_cart(
        &owner.org_id,
        None,
        json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id }),
    )
    .await
    .expect(201);

    for (body, field) in [
        (json!({ "capacity": -1 }), "capacity"),
        (json!({ "price": -5 }), "price"),
        (json!({ "currency": "USD" }), "currency"),
        (json!({ "kind": "seated" }), "kind"),
        (
            json!({ "min_per_order": 4, "max_per_order": 2 }),
            "max_per_order",
        ),
        (
            json!({ "sale_starts_at": "2030-01-02T00:00:00Z", "sale_ends_at": "2030-01-01T00:00:00Z" }),
            "sale_ends_at",
        ),
    ] {
        let problem = app
            .patch(&path, &auth, body)
            .await
            .expect_problem(400, "validation_failed");
        assert_eq!(problem["field"], field);
    }
    let create = format!("/admin/events/{}/ticket-types", ev.event_id);
    app.post(&create, &auth, json!({ "name": "No capacity", "price": 1 }))
        .await
        .expect_problem(400, "validation_failed");
    app.post(
        &create,
        &auth,
        json!({ "name": "Seated", "price": 1, "kind": "seated" }),
    )
    .await
    .expect_problem(422, "mode_conflict");
    let list = app.get(&create, &auth).await.expect(200)["items"].clone();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["held"], 4);
}

async fn seat_maps_and_hotspots(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let event = app
        .post(
            "/admin/events",
            &auth,
            json!({ "title": { "en": "Opera" }, "starts_at": "2030-05-01T19:00:00Z", "ends_at": "2030-05-01T22:00:00Z",
                    "mode": "seated", "map_image_ref": "maps/opera.png" }),
        )
        .await
        .expect(201);
    let event_id = event["id"].as_str().unwrap();
    let premium = app
        .post(
            &format!("/admin/events/{event_id}/ticket-types"),
            &auth,
            json!({ "name": "Premium", "price": 900000 }),
        )
        .await
        .expect(201);
    assert_eq!(premium["kind"], "seated");
    let standard = app
        .post(
            &format!("/admin/events/{event_id}/ticket-types"),
            &auth,
            json!({ "name": "Standard", "price": 400000 }),
        )
        .await
        .expect(201);
    let section = app
        .post(
            &format!("/admin/events/{event_id}/sections"),
            &auth,
            json!({ "name": "Stalls", "ticket_type_id": standard["id"], "layout": ["A-Z:1-40"] }),
        )
        .await
        .expect(201);
    assert_eq!(section["seats"].as_array().unwrap().len(), 26 * 40);
    let front: Vec<String> = section["seats"].as_array().unwrap()[..40]
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert!(section["seats"][0]["row"] == "A" && section["seats"][0]["number"] == "1");
    // Row A becomes premium, seat A-40 is blocked.
    app.patch(
        &format!("/admin/events/{event_id}/seats"),
        &auth,
        json!({ "seat_ids": front, "ticket_type_id": premium["id"] }),
    )
    .await
    .expect(200);
    app.patch(
        &format!("/admin/events/{event_id}/seats"),
        &auth,
        json!({ "seat_ids": [front[39]], "blocked": true }),
    )
    .await
    .expect(200);
    let types = app
        .get(&format!("/admin/events/{event_id}/ticket-types"), &auth)
        .await
        .expect(200)["items"]
        .clone();
    let capacity = |name: &str| {
        types
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["capacity"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(capacity("Premium"), 39);
    assert_eq!(capacity("Standard"), 25 * 40);

    let hotspot = app
        .post(
            &format!("/admin/events/{event_id}/hotspots"),
            &auth,
            json!({ "shape": "rect", "coords": [10, 20, 300, 80], "target_kind": "section", "target_id": section["id"], "label": "Stalls" }),
        )
        .await
        .expect(201);
    app.post(
        &format!("/admin/events/{event_id}/hotspots"),
        &auth,
        json!({ "shape": "circle", "coords": [5, 5, 2], "target_kind": "seat", "target_id": front[0] }),
    )
    .await
    .expect(201);
    for bad in [
        json!({ "shape": "rect", "coords": [1, 2, 3], "target_kind": "section", "target_id": section["id"] }),
        json!({ "shape": "polygon", "coords": [1, 2, 3, 4], "target_kind": "section", "target_id": section["id"] }),
        json!({ "shape": "circle", "coords": [1, 2, -3], "target_kind": "section", "target_id": section["id"] }),
    ] {
        app.post(&format!("/admin/events/{event_id}/hotspots"), &auth, bad)
            .await
            .expect_problem(400, "validation_failed");
    }
    app.post(
        &format!("/admin/events/{event_id}/hotspots"),
        &auth,
        json!({ "shape": "circle", "coords": [5, 5, 2], "target_kind": "seat", "target_id": "no-such-seat" }),
    )
    .await
    .expect_problem(404, "not_found");
    for layout in [json!(["Z-A:1-4"]), json!(["A-B"]), json!([])] {
        app.post(
            &format!("/admin/events/{event_id}/sections"),
            &auth,
            json!({ "name": "Bad", "ticket_type_id": standard["id"], "layout": layout }),
        )
        .await
        .expect_problem(400, "validation_failed");
    }
    app.post(
        &format!("/admin/events/{event_id}/sections"),
        &auth,
        json!({ "name": "Dup", "ticket_type_id": standard["id"], "layout": ["A:1-3", "A:3-4"] }),
    )
    .await
    .expect_problem(409, "duplicate_seat");
    assert_eq!(
        app.count("sections").await,
        1,
        "refused sections write nothing"
    );
    app.post(
        &format!("/admin/events/{event_id}/publish"),
        &auth,
        json!({}),
    )
    .await
    .expect(200);

    // The storefront draws the map from the inventory.
    let inventory = app
        .get(
            &format!("/consumer/events/{event_id}/inventory"),
            &Auth::Internal(owner.org_id.clone()),
        )
        .await
        .expect(200);
    assert_eq!(inventory["mode"], "seated");
    assert_eq!(inventory["map_image_ref"], "maps/opera.png");
    assert_eq!(inventory["hotspots"].as_array().unwrap().len(), 2);
    assert_eq!(
        inventory["hotspots"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["id"] == hotspot["id"])
            .count(),
        1
    );
    assert_eq!(
        inventory["sections"][0]["seats"].as_array().unwrap().len(),
        26 * 40
    );
    app.delete(
        &format!(
            "/admin/events/{event_id}/hotspots/{}",
            hotspot["id"].as_str().unwrap()
        ),
        &auth,
    )
    .await
    .expect(204);
    let availability = app
        .get(
            &format!("/consumer/events/{event_id}/availability"),
            &Auth::Internal(owner.org_id.clone()),
        )
        .await
        .expect(200);
    assert_eq!(availability["sections"][0]["remaining"], 26 * 40 - 1);
    assert_eq!(
        availability["seats"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["available"] == false)
            .count(),
        1,
        "the blocked seat"
    );
}

async fn storefront_catalog_filters_and_pages(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    for (i, city) in ["Jakarta", "Bandung", "Jakarta", "Bali"].iter().enumerate() {
        app.ga_event(
            &owner,
            10,
            json!({ "title": { "en": format!("Show {i} 100%") }, "starts_at": format!("2030-0{}-01T19:00:00Z", i + 1),
                    "ends_at": format!("2030-0{}-01T23:00:00Z", i + 1), "venue": { "name": format!("Hall {i}"), "city": city } }),
            json!({}),
        )
        .await;
    }
    // A draft and an unlisted event are not listed.
    app.post("/admin/events", &auth, json!({ "title": { "en": "Draft" }, "starts_at": "2030-01-05T19:00:00Z", "ends_at": "2030-01-05T20:00:00Z" }))
        .await
        .expect(201);
    app.ga_event(
        &owner,
        10,
        json!({ "title": { "en": "Secret" }, "visibility": "unlisted" }),
        json!({}),
    )
    .await;

    let store = Auth::Internal(owner.org_id.clone());
    let all = app.get("/consumer/events", &store).await.expect(200);
    let titles: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"]["en"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["Show 0 100%", "Show 1 100%", "Show 2 100%", "Show 3 100%"],
        "soonest first"
    );
    assert!(all["items"][0].get("access_key").is_none());
    let jakarta = app
        .get("/consumer/events?city=jakarta", &store)
        .await
        .expect(200);
    assert_eq!(jakarta["items"].as_array().unwrap().len(), 2);
    let search = app
        .get("/consumer/events?q=hall%202", &store)
        .await
        .expect(200);
    assert_eq!(search["items"].as_array().unwrap().len(), 1);
    let percent = app
        .get("/consumer/events?q=100%25", &store)
        .await
        .expect(200);
    assert_eq!(
        percent["items"].as_array().unwrap().len(),
        4,
        "% is matched literally"
    );
    let underscore = app.get("/consumer/events?q=_", &store).await.expect(200);
    assert_eq!(
        underscore["items"].as_array().unwrap().len(),
        0,
        "_ is matched literally"
    );
    let window = app
        .get(
            "/consumer/events?from=2030-02-01T00:00:00Z&to=2030-04-01T00:00:00Z",
            &store,
        )
        .await
        .expect(200);
    assert_eq!(window["items"].as_array().unwrap().len(), 2);
    let page1 = app
        .get("/consumer/events?limit=3", &store)
        .await
        .expect(200);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2 = app
        .get(&format!("/consumer/events?limit=3&cursor={cursor}"), &store)
        .await
        .expect(200);
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_eq!(page2["items"][0]["title"]["en"], "Show 3 100%");
    assert!(page2["next_cursor"].is_null());
    app.get("/consumer/events?from=yesterday", &store)
        .await
        .expect_problem(400, "validation_failed");
    app.get("/consumer/events?cursor=%%%", &store)
        .await
        .expect_problem(400, "validation_failed");
    app.get("/consumer/events", &Auth::None)
        .await
        .expect_problem(401, "missing_credentials");
}

async fn hidden_and_private_inventory(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app
        .ga_event(
            &owner,
            10,
            json!({ "visibility": "private" }),
            json!({ "name": "Presale", "unlock_code": "FANS2030" }),
        )
        .await;
    let event = app
        .get(&format!("/admin/events/{}", ev.event_id), &auth)
        .await
        .expect(200);
    let key = event["access_key"].as_str().unwrap();
    let store = Auth::Internal(owner.org_id.clone());
    app.get(&format!("/consumer/events/{}", ev.event_id), &store)
        .await
        .expect_problem(404, "not_found");
    app.get(
        &format!("/consumer/events/{}?access_key=wrong", ev.event_id),
        &store,
    )
    .await
    .expect_problem(404, "not_found");
    app.get(
        &format!("/consumer/events/{}?access_key={key}", ev.event_id),
        &store,
    )
    .await
    .expect(200);
    let inventory = app
        .get(
            &format!(
                "/consumer/events/{}/inventory?access_key={key}",
                ev.event_id
            ),
            &store,
        )
        .await
        .expect(200);
    assert_eq!(
        inventory["ticket_types"].as_array().unwrap().len(),
        0,
        "hidden without the code"
    );
    let unlocked = app
        .get(
            &format!(
                "/consumer/events/{}/inventory?access_key={key}&unlock=fans2030",
                ev.event_id
            ),
            &store,
        )
        .await
        .expect(200);
    assert_eq!(unlocked["ticket_types"][0]["name"], "Presale");

    let add =
        json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "access_key": key });
    app.add_to_cart(&owner.org_id, None, add.clone())
        .await
        .expect_problem(404, "not_found");
    let mut with_code = add.clone();
    with_code["unlock_code"] = json!("FANS2030");
    app.add_to_cart(&owner.org_id, None, with_code.clone())
        .await
        .expect(201);
    let mut no_key = with_code;
    no_key["access_key"] = json!(null);
    app.add_to_cart(&owner.org_id, None, no_key)
        .await
        .expect_problem(404, "not_found");
}

async fn catalog_ids_of_other_tenants_answer_404(app: TestApp) {
    let a = app.signup("a@example.com").await;
    let b = app.signup("b@example.com").await;
    let b_ev = app.ga_event(&b, 10, json!({}), json!({})).await;
    let a_auth = Auth::bearer(&a.token);
    for path in [
        format!("/admin/events/{}", b_ev.event_id),
        format!("/admin/events/{}/ticket-types", b_ev.event_id),
        format!("/admin/events/{}/sections", b_ev.event_id),
    ] {
        app.get(&path, &a_auth)
            .await
            .expect_problem(404, "not_found");
    }
    app.patch(
        &format!("/admin/events/{}", b_ev.event_id),
        &a_auth,
        json!({ "hold_minutes": 1 }),
    )
    .await
    .expect_problem(404, "not_found");
    app.patch(
        &format!("/admin/ticket-types/{}", b_ev.ticket_type_id),
        &a_auth,
        json!({ "capacity": 0 }),
    )
    .await
    .expect_problem(404, "not_found");
    app.post(
        &format!("/admin/events/{}/publish", b_ev.event_id),
        &a_auth,
        json!({}),
    )
    .await
    .expect_problem(404, "not_found");
    app.post(
        &format!("/admin/events/{}/ticket-types", b_ev.event_id),
        &a_auth,
        json!({ "name": "x", "price": 1, "capacity": 1 }),
    )
    .await
    .expect_problem(404, "not_found");
    let a_store = Auth::Internal(a.org_id.clone());
    for path in [
        format!("/consumer/events/{}", b_ev.event_id),
        format!("/consumer/events/{}/inventory", b_ev.event_id),
        format!("/consumer/events/{}/availability", b_ev.event_id),
    ] {
        app.get(&path, &a_store)
            .await
            .expect_problem(404, "not_found");
    }
    // Through A's storefront, B's ticket type cannot be held.
    app.add_to_cart(
        &a.org_id,
        None,
        json!({ "event_id": b_ev.event_id, "ticket_type_id": b_ev.ticket_type_id }),
    )
    .await
    .expect_problem(404, "not_found");
    let b_types = app
        .get(
            &format!("/admin/events/{}/ticket-types", b_ev.event_id),
            &Auth::bearer(&b.token),
        )
        .await
        .expect(200)["items"]
        .clone();
    assert_eq!(b_types[0]["held"], 0);
    assert_eq!(b_types[0]["capacity"], 10);
}
