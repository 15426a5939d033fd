//! Malformed requests get a clear 4xx problem and write nothing.

use crate::helpers::{Auth, TestApp};
use crate::on_both_databases;

on_both_databases!(malformed_bodies_are_refused_and_change_nothing);

async fn raw(
    app: &TestApp,
    token: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
    idem: bool,
) -> (u16, serde_json::Value, Option<String>) {
    // An oversized body is refused from its Content-Length before it is read; the server
    // may close the connection while the client is still writing it, and the client then
    // sees a broken pipe instead of the 413. Sending again is what a client would do.
    let mut attempts = 0;
    let resp = loop {
        let mut req = app
            .client
            .post(format!("{}/admin/api-keys", app.base))
            .bearer_auth(token)
            .body(body.clone());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        if idem {
            req = req.header("idempotency-key", uuid::Uuid::now_v7().to_string());
        }
        match req.send().await {
            Ok(resp) => break resp,
            Err(err) if attempts < 5 && err.is_request() => attempts += 1,
            Err(err) => panic!("{err}"),
        }
    };
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    (status, resp.json().await.unwrap_or_default(), ct)
}

async fn malformed_bodies_are_refused_and_change_nothing(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let before = (app.count("api_keys").await, app.count("audit_log").await);
    let big = format!(
        "{{\"name\": \"{}\", \"role\": \"viewer\"}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let cases: Vec<(Option<&str>, Vec<u8>, u16, &str)> = vec![
        (
            Some("application/json"),
            b"{\"name\": ".to_vec(),
            400,
            "malformed_json",
        ),
        (
            Some("application/json"),
            b"".to_vec(),
            400,
            "malformed_json",
        ),
        (
            Some("application/json"),
            b"[1,2]".to_vec(),
            400,
            "invalid_body",
        ),
        (
            Some("application/json"),
            br#"{"name": ["x"], "role": "viewer"}"#.to_vec(),
            400,
            "invalid_body",
        ),
        (
            Some("application/json"),
            br#"{"name": "x", "role": "emperor"}"#.to_vec(),
            400,
            "invalid_body",
        ),
        (
            Some("application/json"),
            br#"{"name": "x", "role": "viewer", "admin": true}"#.to_vec(),
            400,
            "invalid_body",
        ),
        (
            Some("application/json"),
            br#"{"name": "", "role": "viewer"}"#.to_vec(),
            400,
            "validation_failed",
        ),
        (
            Some("text/plain"),
            br#"{"name": "x", "role": "viewer"}"#.to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            None,
            br#"{"name": "x", "role": "viewer"}"#.to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            Some("application/json"),
            big.into_bytes(),
            413,
            "payload_too_large",
        ),
    ];
    for (content_type, body, status, code) in cases {
        for idem in [false, true] {
            let (got, problem, ct) =
                raw(&app, &owner.token, content_type, body.clone(), idem).await;
            assert_eq!(got, status, "{content_type:?} idem={idem}: {problem:#}");
            assert_eq!(problem["code"], code, "{problem:#}");
            assert_eq!(ct.as_deref(), Some("application/problem+json"));
        }
    }
    assert_eq!(
        (app.count("api_keys").await, app.count("audit_log").await),
        before,
        "refused requests wrote nothing"
    );
    // The organization settings refuse bad values field by field.
    for (field, value) in [
        ("currency", "rupiah"),
        ("timezone", "not a zone"),
        ("locale", "fr"),
        ("support_email", "nope"),
        ("website", "ftp://x"),
    ] {
        let problem = app
            .patch(
                "/admin/organization",
                &Auth::bearer(&owner.token),
                serde_json::json!({ field: value }),
            )
            .await
            .expect_problem(400, "validation_failed");
        assert_eq!(problem["field"], field);
    }
    let org = app
        .get("/admin/organization", &Auth::bearer(&owner.token))
        .await
        .expect(200);
    assert_eq!(org["currency"], "IDR");
    assert_eq!(org["timezone"], "Asia/Jakarta");
}

on_both_databases!(nul_characters_are_refused_before_any_query);

/// Rows of the tables a refused request could have written to.
async fn written(app: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in [
        "organizations",
        "operators",
        "api_keys",
        "audit_log",
        "events",
        "ticket_types",
        "discounts",
        "guests",
        "holds",
        "buyers",
        "devices",
        "idempotency_keys",
    ] {
        counts.push(app.count(table).await);
    }
    counts
}

async fn nul_characters_are_refused_before_any_query(app: TestApp) {
    use reqwest::Method;
    use serde_json::json;

    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app.ga_event(&owner, 10, json!({}), json!({})).await;
    let store = Auth::Internal(owner.org_id.clone());
    let before = written(&app).await;

    // Ids in the path (two routes need no credential at all), filters in the query string.
    let gets: Vec<(String, Auth)> = vec![
        ("/t/%00".into(), Auth::None),
        ("/pay/%00".into(), Auth::None),
        ("/t/abc%00def".into(), Auth::None),
        ("/admin/events/%00".into(), auth.clone()),
        (
            format!("/admin/events/{}%00/ticket-types", ev.event_id),
            auth.clone(),
        ),
        ("/admin/orders?email=%00".into(), auth.clone()),
        (
            "/admin/orders?status=paid&event_id=x%00y".into(),
            auth.clone(),
        ),
        ("/admin/orders?%00=1".into(), auth.clone()),
        ("/admin/members?cursor=%00".into(), auth.clone()),
        ("/consumer/events?q=jazz%00".into(), store.clone()),
        (
            format!("/consumer/events/{}?access_key=%00", ev.event_id),
            store.clone(),
        ),
        (
            format!("/admin/events/{}/guests?q=%00", ev.event_id),
            auth.clone(),
        ),
    ];
    for (path, who) in &gets {
        app.get(path, who)
            .await
            .expect_problem(400, "nul_character");
    }

    // Body fields, as the JSON escape `\u0000` (what serializers write for NUL).
    let posts: Vec<(Method, String, Auth, serde_json::Value)> = vec![
        (
            Method::POST,
            "/admin/api-keys".into(),
            auth.clone(),
            json!({ "name": "a\u{0}b", "role": "viewer" }),
        ),
        (
            Method::POST,
            "/admin/events".into(),
            auth.clone(),
            json!({ "title": { "en": "Jazz\u{0}" }, "starts_at": "2030-03-01T19:00:00Z", "ends_at": "2030-03-01T23:00:00Z" }),
        ),
        (
            Method::PATCH,
            "/admin/organization".into(),
            auth.clone(),
            json!({ "name": "\u{0}" }),
        ),
        (
            Method::POST,
            "/admin/discounts".into(),
            auth.clone(),
            json!({ "code": "A\u{0}B", "kind": "percent", "value": 1000 }),
        ),
        (
            Method::POST,
            format!("/admin/events/{}/guest-list", ev.event_id),
            auth.clone(),
            json!({ "name": "Ana", "email": "ana@example.com", "ticket_type_id": format!("{}\u{0}", ev.ticket_type_id) }),
        ),
        (
            Method::POST,
            "/consumer/auth/login".into(),
            store.clone(),
            json!({ "email": "a\u{0}@example.com", "password": "buyer password 1" }),
        ),
        (
            Method::POST,
            "/consumer/auth/register".into(),
            store.clone(),
            json!({ "email": "b@example.com", "password": "buyer password 1", "name": "B\u{0}" }),
        ),
        (
            Method::POST,
            "/consumer/cart/items".into(),
            store.clone(),
            json!({ "event_id": ev.event_id, "ticket_type_id": "\u{0}", "quantity": 1 }),
        ),
        (
            Method::POST,
            "/gate/pair".into(),
            Auth::None,
            json!({ "pairing_code": "\u{0}" }),
        ),
        (
            Method::POST,
            "/admin/auth/login".into(),
            Auth::None,
            json!({ "email": "owner@example.com\u{0}", "password": "correct horse battery" }),
        ),
        (
            Method::POST,
            "/admin/devices".into(),
            auth.clone(),
            json!({ "name": "Gate", "list_ids": ["\u{0}"] }),
        ),
    ];
    for (method, path, who, body) in posts {
        let text = body.to_string();
        assert!(text.contains("\\u0000"), "{text}");
        for idem in [None, Some("nul-1")] {
            let extra: Vec<(&str, &str)> =
                idem.map(|k| ("idempotency-key", k)).into_iter().collect();
            app.call_with(method.clone(), &path, &who, Some(body.clone()), &extra)
                .await
                .expect_problem(400, "nul_character");
        }
    }

    // A raw NUL byte in a JSON body, in a key, and in a CSV upload.
    let raw: Vec<(String, &str, Vec<u8>)> = vec![
        (
            "/admin/api-keys".into(),
            "application/json",
            b"{\"name\": \"a\x00b\", \"role\": \"viewer\"}".to_vec(),
        ),
        (
            "/admin/api-keys".into(),
            "application/json",
            br#"{"na\u0000me": "a", "role": "viewer"}"#.to_vec(),
        ),
        (
            format!(
                "/admin/events/{}/guest-list/import?send_email=false",
                ev.event_id
            ),
            "text/csv",
            format!(
                "name,email,ticket_type\nAna\x00,ana@example.com,{}\n",
                ev.ticket_type_id
            )
            .into_bytes(),
        ),
    ];
    for (path, content_type, body) in raw {
        app.call_raw(Method::POST, &path, &auth, content_type, body)
            .await
            .expect_problem(400, "nul_character");
    }

    assert_eq!(
        written(&app).await,
        before,
        "refused requests wrote nothing"
    );

    // Text that only looks like the escape (an escaped backslash, then `u0000`) is not a NUL.
    let key = app
        .post(
            "/admin/api-keys",
            &auth,
            json!({ "name": "a\\u0000b", "role": "viewer" }),
        )
        .await
        .expect(201);
    assert_eq!(key["name"], "a\\u0000b");
}

on_both_databases!(
    bad_query_strings_paths_and_encodings_are_problems,
    currencies_are_iso_4217_codes,
    control_characters_are_refused_in_text,
    discounts_name_only_the_organizations_events_and_types,
    min_per_order_never_exceeds_capacity,
);

async fn bad_query_strings_paths_and_encodings_are_problems(app: TestApp) {
    use serde_json::json;

    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app.ga_event(&owner, 10, json!({}), json!({})).await;
    let store = Auth::Internal(owner.org_id.clone());
    for (path, who, field) in [
        ("/admin/members?limit=abc".to_string(), &auth, "limit"),
        ("/admin/audit-log?limit=1.5".into(), &auth, "limit"),
        ("/admin/orders?limit=-".into(), &auth, "limit"),
        ("/admin/discounts?limit=1e3".into(), &auth, "limit"),
        ("/consumer/events?limit=many".into(), &store, "limit"),
        (
            format!("/admin/events/{}/guests?limit=x", ev.event_id),
            &auth,
            "limit",
        ),
        (
            format!("/admin/events/{}/checkins?bucket_minutes=x", ev.event_id),
            &auth,
            "bucket_minutes",
        ),
    ] {
        let problem = app
            .get(&path, who)
            .await
            .expect_problem(400, "invalid_query");
        assert_eq!(problem["field"], field, "{path}: {problem:#}");
    }
    let before = (app.count("guests").await, app.count("audit_log").await);
    app.post_text(
        &format!(
            "/admin/events/{}/guest-list/import?send_email=perhaps",
            ev.event_id
        ),
        &auth,
        "text/csv",
        "name,email,ticket_type\n",
    )
    .await
    .expect_problem(400, "invalid_query");
    // A CSV that is not UTF-8 (`é` in Latin-1).
    let mut latin1 = b"name,email,ticket_type\nRen\xe9,ren@example.com,".to_vec();
    latin1.extend_from_slice(ev.ticket_type_id.as_bytes());
    latin1.push(b'\n');
    let problem = app
        .call_raw(
            reqwest::Method::POST,
            &format!(
                "/admin/events/{}/guest-list/import?send_email=false",
                ev.event_id
            ),
            &auth,
            "text/csv",
            latin1,
        )
        .await
        .expect_problem(400, "invalid_body");
    assert!(
        problem["detail"].as_str().unwrap().contains("UTF-8"),
        "{problem:#}"
    );
    assert_eq!(
        (app.count("guests").await, app.count("audit_log").await),
        before
    );
    // A path segment that does not decode to UTF-8.
    for path in [
        "/admin/events/%FF",
        "/t/%C3%28",
        "/admin/events/%E2%82/ticket-types",
    ] {
        app.get(path, &auth)
            .await
            .expect_problem(400, "invalid_path");
    }
}

async fn currencies_are_iso_4217_codes(app: TestApp) {
    use serde_json::json;

    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app.ga_event(&owner, 10, json!({}), json!({})).await;
    let partner = app.partner("Kisum").await;
    let kisum = Auth::bearer(&partner);
    let provisioned = app
        .post(
            "/partner/organizations",
            &kisum,
            json!({ "name": "Java Jazz", "external_ref": "company-42" }),
        )
        .await
        .expect(201);
    let org_id = provisioned["organization"]["id"].as_str().unwrap();
    let before = (
        app.count("ticket_types").await,
        app.count("discounts").await,
        app.count("audit_log").await,
    );
    for bad in ["ZZZ", "XXX", "ABC", "idr", "IDRR"] {
        let cases: Vec<(reqwest::Method, String, &Auth, serde_json::Value)> = vec![
            (
                reqwest::Method::PATCH,
                "/admin/organization".into(),
                &auth,
                json!({ "currency": bad }),
            ),
            (
                reqwest::Method::POST,
                format!("/admin/events/{}/ticket-types", ev.event_id),
                &auth,
                json!({ "name": "VIP", "price": 1, "capacity": 1, "currency": bad }),
            ),
            (
                reqwest::Method::POST,
                "/admin/discounts".into(),
                &auth,
                json!({ "code": "FIXED", "kind": "fixed", "value": 100, "currency": bad }),
            ),
            (
                reqwest::Method::PUT,
                "/admin/points-program".into(),
                &auth,
                json!({ "earn_per": 1000, "point_value": 10, "expiry_days": 30, "currency": bad }),
            ),
            (
                reqwest::Method::PUT,
                format!("/partner/organizations/{org_id}/fee"),
                &kisum,
                json!({ "fixed": 0, "bps": 100, "min": 0, "max": null, "currency": bad }),
            ),
        ];
        for (method, path, who, body) in cases {
            let problem = app
                .call(method.clone(), &path, who, Some(body))
                .await
                .expect_problem(400, "validation_failed");
            assert_eq!(problem["field"], "currency", "{method} {path} {bad}");
        }
    }
    assert_eq!(
        (
            app.count("ticket_types").await,
            app.count("discounts").await,
            app.count("audit_log").await,
        ),
        before
    );
    for good in ["USD", "EUR", "SGD", "JPY", "IDR"] {
        app.patch("/admin/organization", &auth, json!({ "currency": good }))
            .await
            .expect(200);
    }
}

async fn control_characters_are_refused_in_text(app: TestApp) {
    use serde_json::json;

    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app.ga_event(&owner, 10, json!({}), json!({})).await;
    let event_path = format!("/admin/events/{}", ev.event_id);
    let before = app.count("audit_log").await;
    for (body, field) in [
        (
            json!({ "description": { "en": "Doors open\u{7} at 7" } }),
            "description",
        ),
        (
            json!({ "description": { "id": "\u{1b}[31mred" } }),
            "description",
        ),
        (
            json!({ "description": { "en": "end\u{7f}" } }),
            "description",
        ),
        (
            json!({ "description": { "en": "next\u{85}line" } }),
            "description",
        ),
        (json!({ "title": { "en": "Java\nJazz" } }), "title"),
        (json!({ "title": { "en": "Java\tJazz" } }), "title"),
        (
            json!({ "venue": { "name": "JIExpo", "address": "Jl. \u{8}Benyamin" } }),
            "venue.address",
        ),
        (json!({ "venue": { "name": "JI\rExpo" } }), "venue.name"),
    ] {
        let problem = app
            .patch(&event_path, &auth, body.clone())
            .await
            .expect_problem(400, "validation_failed");
        assert_eq!(problem["field"], field, "{body}");
    }
    for (path, body, field) in [
        (
            format!("/admin/events/{}/ticket-types", ev.event_id),
            json!({ "name": "V\u{0b}IP", "price": 1, "capacity": 1 }),
            "name",
        ),
        (
            format!("/admin/events/{}/guest-list", ev.event_id),
            json!({ "name": "Ana", "email": "ana@example.com", "ticket_type_id": ev.ticket_type_id, "note": "table\u{c}4", "send_email": false }),
            "note",
        ),
        (
            format!("/admin/events/{}/checkin-lists", ev.event_id),
            json!({ "name": "Main\u{1f}" }),
            "name",
        ),
    ] {
        let problem = app
            .post(&path, &auth, body)
            .await
            .expect_problem(400, "validation_failed");
        assert_eq!(problem["field"], field, "{path}");
    }
    assert_eq!(app.count("audit_log").await, before, "nothing changed");
    // Line breaks and tabs belong in descriptions; CRLF is kept as LF.
    let event = app
        .patch(
            &event_path,
            &auth,
            json!({
                "description": { "en": "Doors 19:00\r\n\tLine-up:\n- Ana" },
                "venue": { "name": "JIExpo", "address": "Jl. Benyamin Sueb, Jakarta" },
            }),
        )
        .await
        .expect(200);
    assert_eq!(event["description"]["en"], "Doors 19:00\n\tLine-up:\n- Ana");
    assert_eq!(event["venue"]["address"], "Jl. Benyamin Sueb, Jakarta");
}

async fn discounts_name_only_the_organizations_events_and_types(app: TestApp) {
    use serde_json::json;

    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app.ga_event(&owner, 10, json!({}), json!({})).await;
    let other_event = app.ga_event(&owner, 10, json!({}), json!({})).await;
    let stranger = app.signup("stranger@example.com").await;
    let foreign = app.ga_event(&stranger, 10, json!({}), json!({})).await;
    let before = (app.count("discounts").await, app.count("audit_log").await);
    let base = json!({ "code": "SAVE10", "kind": "percent", "value": 1000 });
    let with = |extra: serde_json::Value| {
        let mut body = base.clone();
        crate::helpers::merge(&mut body, extra);
        body
    };
    for extra in [
        json!({ "event_ids": ["no-such-event"] }),
        json!({ "event_ids": [ev.event_id, foreign.event_id] }),
        json!({ "ticket_type_ids": ["no-such-type"] }),
        json!({ "ticket_type_ids": [foreign.ticket_type_id] }),
    ] {
        app.post("/admin/discounts", &auth, with(extra.clone()))
            .await
            .expect_problem(404, "not_found");
    }
    // A ticket type of an event the code is not for could never be discounted.
    let problem = app
        .post(
            "/admin/discounts",
            &auth,
            with(json!({ "event_ids": [ev.event_id], "ticket_type_ids": [other_event.ticket_type_id] })),
        )
        .await
        .expect_problem(400, "validation_failed");
    assert_eq!(problem["field"], "ticket_type_ids");
    for field in ["max_uses", "max_uses_per_buyer"] {
        let problem = app
            .post("/admin/discounts", &auth, with(json!({ field: 0 })))
            .await
            .expect_problem(400, "validation_failed");
        assert_eq!(problem["field"], field);
    }
    assert_eq!(
        (app.count("discounts").await, app.count("audit_log").await),
        before,
        "refused discounts wrote nothing"
    );

    let created = app
        .post(
            "/admin/discounts",
            &auth,
            with(json!({ "event_ids": [ev.event_id], "ticket_type_ids": [ev.ticket_type_id], "max_uses": 5, "max_uses_per_buyer": 1 })),
        )
        .await
        .expect(201);
    let path = format!("/admin/discounts/{}", created["id"].as_str().unwrap());
    for body in [
        json!({ "event_ids": [foreign.event_id] }),
        json!({ "ticket_type_ids": [foreign.ticket_type_id] }),
    ] {
        app.patch(&path, &auth, body)
            .await
            .expect_problem(404, "not_found");
    }
    app.patch(&path, &auth, json!({ "max_uses": 0 }))
        .await
        .expect_problem(400, "validation_failed");
    // Changing the events alone re-checks the ticket types the code already names.
    app.patch(&path, &auth, json!({ "event_ids": [other_event.event_id] }))
        .await
        .expect_problem(400, "validation_failed");
    // `null` clears a limit.
    let cleared = app
        .patch(
            &path,
            &auth,
            json!({ "max_uses": null, "max_uses_per_buyer": null }),
        )
        .await
        .expect(200);
    assert_eq!(cleared["max_uses"], serde_json::Value::Null);
    assert_eq!(cleared["max_uses_per_buyer"], serde_json::Value::Null);
    assert_eq!(cleared["event_ids"], json!([ev.event_id]));
    // Omitting a field leaves it as it is.
    let kept = app
        .patch(&path, &auth, json!({ "max_uses": 3 }))
        .await
        .expect(200);
    assert_eq!(kept["max_uses"], 3);
    let kept = app
        .patch(&path, &auth, json!({ "value": 500 }))
        .await
        .expect(200);
    assert_eq!(kept["max_uses"], 3);
}

async fn min_per_order_never_exceeds_capacity(app: TestApp) {
    use serde_json::json;

    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app.ga_event(&owner, 10, json!({}), json!({})).await;
    let create = format!("/admin/events/{}/ticket-types", ev.event_id);
    let before = app.count("ticket_types").await;
    app.post(
        &create,
        &auth,
        json!({ "name": "Table", "price": 1, "capacity": 5, "min_per_order": 6 }),
    )
    .await
    .expect_problem(422, "min_above_capacity");
    assert_eq!(app.count("ticket_types").await, before);
    let table = app
        .post(
            &create,
            &auth,
            json!({ "name": "Table", "price": 1, "capacity": 5, "min_per_order": 5 }),
        )
        .await
        .expect(201);
    let path = format!("/admin/ticket-types/{}", table["id"].as_str().unwrap());
    app.patch(&path, &auth, json!({ "min_per_order": 6 }))
        .await
        .expect_problem(422, "min_above_capacity");
    app.patch(&path, &auth, json!({ "capacity": 4 }))
        .await
        .expect_problem(422, "min_above_capacity");
    let changed = app
        .patch(&path, &auth, json!({ "capacity": 8, "min_per_order": 8 }))
        .await
        .expect(200);
    assert_eq!(
        (
            changed["capacity"].as_i64(),
            changed["min_per_order"].as_i64()
        ),
        (Some(8), Some(8))
    );
    // Capacity 0 sells nothing whatever the minimum, so it stays allowed.
    app.post(
        &create,
        &auth,
        json!({ "name": "Closed", "price": 1, "capacity": 0 }),
    )
    .await
    .expect(201);
}
