use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::{Auth, GaEvent, TestApp};
use crate::on_both_databases;

on_both_databases!(
    devices_pair_and_scans_answer_once,
    one_code_at_many_gates_is_valid_once,
    a_nonce_reused_for_another_scan_is_refused
);

/// Issues `n` free tickets of the event's GA type; returns them.
pub async fn tickets(app: &TestApp, org: &str, ev: &GaEvent, n: i64) -> Vec<Value> {
    let added = app
        .add_to_cart(
            org,
            None,
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": n }),
        )
        .await
        .expect(201);
    let cart = TestApp::cart_auth(org, added["cart_token"].as_str().unwrap());
    let order = app
        .post(
            "/consumer/checkout",
            &cart,
            json!({ "email": "g@example.com", "name": "Guest One" }),
        )
        .await
        .expect(201);
    order["order"]["tickets"].as_array().unwrap().clone()
}

/// A check-in list for all of the event's ticket types; its id.
pub async fn checkin_list(app: &TestApp, auth: &Auth, event_id: &str, name: &str) -> String {
    app.post(
        &format!("/admin/events/{event_id}/checkin-lists"),
        auth,
        json!({ "name": name }),
    )
    .await
    .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// An operator moves the ticket to a new holder; the ticket with its new code.
pub async fn transfer(
    app: &TestApp,
    auth: &Auth,
    ticket: &Value,
    name: &str,
    email: &str,
) -> Value {
    app.post(
        &format!("/admin/tickets/{}/transfer", ticket["id"].as_str().unwrap()),
        auth,
        json!({ "name": name, "email": email }),
    )
    .await
    .expect(200)
}

pub async fn device(app: &TestApp, auth: &Auth, lists: &[&str]) -> Auth {
    let enrolled = app
        .post(
            "/admin/devices",
            auth,
            json!({ "name": "Gate A", "list_ids": lists }),
        )
        .await
        .expect(201);
    let paired = app
        .post(
            "/gate/pair",
            &Auth::None,
            json!({ "pairing_code": enrolled["pairing_code"] }),
        )
        .await
        .expect(201);
    Auth::bearer(paired["secret"].as_str().unwrap())
}

pub async fn scan(app: &TestApp, device: &Auth, body: Value) -> Value {
    app.post("/gate/scans", device, body).await.expect(200)
}

async fn devices_pair_and_scans_answer_once(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app
        .ga_event(&owner, 20, json!({}), json!({ "price": 0 }))
        .await;
    let vip = app
        .post(
            &format!("/admin/events/{}/ticket-types", ev.event_id),
            &auth,
            json!({ "name": "VIP", "price": 0, "capacity": 5 }),
        )
        .await
        .expect(201);
    let lists = format!("/admin/events/{}/checkin-lists", ev.event_id);
    let main = app
        .post(&lists, &auth, json!({ "name": "Main" }))
        .await
        .expect(201);
    let vip_only = app
        .post(
            &lists,
            &auth,
            json!({ "name": "VIP lounge", "ticket_type_ids": [vip["id"]] }),
        )
        .await
        .expect(201);
    let reentry = app
        .post(
            &lists,
            &auth,
            json!({ "name": "Wristbands", "allow_reentry": true }),
        )
        .await
        .expect(201);
    let later = app
        .post(
            &lists,
            &auth,
            json!({ "name": "Day 2", "starts_at": "2030-03-02T00:00:00Z" }),
        )
        .await
        .expect(201);
    let closed = app
        .post(
            &lists,
            &auth,
            json!({ "name": "Soundcheck", "ends_at": "2020-01-01T00:00:00Z" }),
        )
        .await
        .expect(201);
    // A ticket type that is not the event's is answered like any unknown id in a body: 404.
    let problem = app
        .post(
            &lists,
            &auth,
            json!({ "name": "Bad", "ticket_type_ids": ["nope"] }),
        )
        .await
        .expect_problem(404, "not_found");
    assert_eq!(problem["field"], "ticket_type_ids");
    let ids = |l: &Value| l["id"].as_str().unwrap().to_string();
    let (main_id, vip_id, re_id, later_id, closed_id) = (
        ids(&main),
        ids(&vip_only),
        ids(&reentry),
        ids(&later),
        ids(&closed),
    );

    // A gate-role key enrolls; the pairing code works once.
    let (_, gate_key) = app.api_key(&owner, "gate").await;
    let gate_auth = Auth::bearer(&gate_key);
    let enrolled = app
        .post(
            "/admin/devices",
            &gate_auth,
            json!({ "name": "Gate A", "list_ids": [main_id, vip_id, re_id, later_id, closed_id] }),
        )
        .await
        .expect(201);
    let paired = app
        .post(
            "/gate/pair",
            &Auth::None,
            json!({ "pairing_code": enrolled["pairing_code"] }),
        )
        .await
        .expect(201);
    app.post(
        "/gate/pair",
        &Auth::None,
        json!({ "pairing_code": enrolled["pairing_code"] }),
    )
    .await
    .expect_problem(401, "invalid_pairing_code");
    let dev = Auth::bearer(paired["secret"].as_str().unwrap());
    app.get("/admin/organization", &dev)
        .await
        .expect_problem(401, "invalid_credentials");
    let (_, viewer) = app.api_key(&owner, "viewer").await;
    app.post(
        "/admin/devices",
        &Auth::bearer(&viewer),
        json!({ "name": "x", "list_ids": [main_id] }),
    )
    .await
    .expect_problem(403, "forbidden");

    let issued = tickets(&app, &owner.org_id, &ev, 3).await;
    let code = issued[0]["code"].as_str().unwrap();
    let first = scan(
        &app,
        &dev,
        json!({ "nonce": "n1", "code": code, "list_id": main_id, "gate": "north" }),
    )
    .await;
    assert_eq!(first["result"], "valid");
    assert_eq!(first["ticket"]["holder_name"], "Guest One");
    assert_eq!(first["ticket"]["ticket_type"], "GA");
    // The same nonce: the same answer, not a second entry.
    let again = scan(
        &app,
        &dev,
        json!({ "nonce": "n1", "code": code, "list_id": main_id, "gate": "north" }),
    )
    .await;
    assert_eq!(again, first);
    // Another scan of it, from the QR text, at another gate.
    let qr = issued[0]["qr_payload"].as_str().unwrap();
    let used = scan(
        &app,
        &dev,
        json!({ "nonce": "n2", "code": qr, "list_id": main_id, "gate": "south" }),
    )
    .await;
    assert_eq!(used["result"], "already_used");
    assert_eq!(used["first_scan"]["gate"], "north");
    // A forged QR (another key), an unknown code.
    let forged = qr
        .rsplit_once('.')
        .map(|(p, _)| format!("{p}.AAAA"))
        .unwrap();
    assert_eq!(
        scan(
            &app,
            &dev,
            json!({ "nonce": "n3", "code": forged, "list_id": main_id })
        )
        .await["result"],
        "unknown"
    );
    assert_eq!(
        scan(
            &app,
            &dev,
            json!({ "nonce": "n4", "code": "nope", "list_id": main_id })
        )
        .await["result"],
        "unknown"
    );
    // Lists: types, windows.
    let other = issued[1]["code"].as_str().unwrap();
    for (nonce, list, expected) in [
        ("n5", &vip_id, "not_on_this_list"),
        ("n6", &later_id, "not_yet_valid"),
        ("n7", &closed_id, "list_closed"),
    ] {
        let answer = scan(
            &app,
            &dev,
            json!({ "nonce": nonce, "code": other, "list_id": list }),
        )
        .await;
        assert_eq!(answer["result"], expected);
    }
    // Re-entry where allowed: in, out, in.
    let wrist = json!({ "code": other, "list_id": re_id });
    let mut w = wrist.clone();
    w["nonce"] = json!("w1");
    assert_eq!(scan(&app, &dev, w.clone()).await["result"], "valid");
    w["nonce"] = json!("w2");
    w["direction"] = json!("out");
    assert_eq!(scan(&app, &dev, w.clone()).await["result"], "exited");
    w["nonce"] = json!("w3");
    w["direction"] = json!("in");
    assert_eq!(scan(&app, &dev, w.clone()).await["result"], "valid");
    w["nonce"] = json!("w4");
    assert_eq!(scan(&app, &dev, w).await["result"], "already_used");
    // Not where it is not: out and back on the main list stays used.
    assert_eq!(
        scan(
            &app,
            &dev,
            json!({ "nonce": "m1", "code": code, "list_id": main_id, "direction": "out" })
        )
        .await["result"],
        "exited"
    );
    assert_eq!(
        scan(
            &app,
            &dev,
            json!({ "nonce": "m2", "code": code, "list_id": main_id })
        )
        .await["result"],
        "already_used"
    );

    // Another event's ticket; a refunded ticket; another organization's code.
    let ev2 = app
        .ga_event(&owner, 5, json!({}), json!({ "price": 0 }))
        .await;
    let elsewhere = tickets(&app, &owner.org_id, &ev2, 1).await;
    let result = scan(
        &app,
        &dev,
        json!({ "nonce": "e1", "code": elsewhere[0]["code"], "list_id": main_id }),
    )
    .await;
    assert_eq!(result["result"], "wrong_event");
    assert!(result.get("ticket").is_none());
    let order_id = issued[2]["order_id"].as_str().unwrap();
    app.post(
        &format!("/admin/orders/{order_id}/refunds"),
        &auth,
        json!({ "ticket_ids": [issued[2]["id"]] }),
    )
    .await
    .expect(201);
    assert_eq!(
        scan(
            &app,
            &dev,
            json!({ "nonce": "r1", "code": issued[2]["code"], "list_id": main_id })
        )
        .await["result"],
        "revoked"
    );
    let stranger = app.signup("stranger@example.com").await;
    let theirs_ev = app
        .ga_event(&stranger, 5, json!({}), json!({ "price": 0 }))
        .await;
    let theirs = tickets(&app, &stranger.org_id, &theirs_ev, 1).await;
    assert_eq!(
        scan(
            &app,
            &dev,
            json!({ "nonce": "s1", "code": theirs[0]["code"], "list_id": main_id })
        )
        .await["result"],
        "unknown"
    );

    // Input and authority.
    app.post("/gate/scans", &dev, json!({ "nonce": "x", "code": code }))
        .await
        .expect_problem(400, "validation_failed");
    app.post(
        "/gate/scans",
        &dev,
        json!({ "nonce": "x", "code": code, "list_id": "other" }),
    )
    .await
    .expect_problem(403, "list_not_allowed");
    app.post(
        "/gate/scans",
        &dev,
        json!({ "nonce": "x", "code": code, "list_id": main_id, "direction": "up" }),
    )
    .await
    .expect_problem(400, "validation_failed");
    let device_id = paired["device_id"].as_str().unwrap();
    app.delete(&format!("/admin/devices/{device_id}"), &gate_auth)
        .await
        .expect(204);
    app.post(
        "/gate/scans",
        &dev,
        json!({ "nonce": "z", "code": code, "list_id": main_id }),
    )
    .await
    .expect_problem(401, "invalid_credentials");
    let listed = app.get("/admin/devices", &gate_auth).await.expect(200)["items"].clone();
    assert_eq!(listed[0]["status"], "revoked");
}

async fn one_code_at_many_gates_is_valid_once(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app
        .ga_event(&owner, 5, json!({}), json!({ "price": 0 }))
        .await;
    let list_id = checkin_list(&app, &auth, &ev.event_id, "Main").await;
    let a = device(&app, &auth, &[&list_id]).await;
    let b = device(&app, &auth, &[&list_id]).await;
    let code = tickets(&app, &owner.org_id, &ev, 1).await[0]["code"]
        .as_str()
        .unwrap()
        .to_string();
    let mut tasks = JoinSet::new();
    for i in 0..24 {
        let (client, base) = (app.client.clone(), app.base.clone());
        let token = match if i % 2 == 0 { &a } else { &b } {
            Auth::Bearer(t) => t.clone(),
            _ => unreachable!(),
        };
        let code = code.clone();
        tasks.spawn(async move {
            let resp = client
                .post(format!("{base}/gate/scans"))
                .bearer_auth(token)
                .json(&json!({ "nonce": format!("rush-{i}"), "code": code, "gate": format!("gate-{}", i % 2) }))
                .send()
                .await
                .unwrap();
            resp.json::<Value>().await.unwrap()["result"].as_str().unwrap().to_string()
        });
    }
    let results = tasks.join_all().await;
    assert_eq!(
        results.iter().filter(|r| *r == "valid").count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        results.iter().filter(|r| *r == "already_used").count(),
        23,
        "{results:?}"
    );
}

async fn a_nonce_reused_for_another_scan_is_refused(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app
        .ga_event(&owner, 10, json!({}), json!({ "price": 0 }))
        .await;
    let issued = tickets(&app, &owner.org_id, &ev, 2).await;
    let list = checkin_list(&app, &auth, &ev.event_id, "Main").await;
    let dev = device(&app, &auth, &[&list]).await;
    let first = json!({ "nonce": "n1", "code": issued[0]["code"], "list_id": list });
    let answer = scan(&app, &dev, first.clone()).await;
    assert_eq!(answer["result"], "valid");
    // A retry of the same scan gets the first answer, with or without naming the device's
    // only list.
    assert_eq!(scan(&app, &dev, first.clone()).await, answer);
    assert_eq!(
        scan(
            &app,
            &dev,
            json!({ "nonce": "n1", "code": issued[0]["code"] })
        )
        .await,
        answer
    );
    let scans = app.count("scans").await;
    // The same nonce for another scan is a device fault: refused, never answered as the first.
    for other in [
        json!({ "nonce": "n1", "code": issued[1]["code"], "list_id": list }),
        json!({ "nonce": "n1", "code": "not-a-code", "list_id": list }),
        json!({ "nonce": "n1", "code": issued[0]["code"], "list_id": list, "direction": "out" }),
        json!({ "nonce": "n1", "code": issued[0]["code"], "list_id": list, "gate": "south" }),
    ] {
        app.post("/gate/scans", &dev, other)
            .await
            .expect_problem(409, "nonce_reused");
    }
    // Offline uploads too: a nonce already used online, or twice in one upload.
    let when = nextkt::platform::clock::rfc3339(
        nextkt::platform::clock::Clock::now_ms(app.clock.as_ref()) - 60_000,
    );
    let offline = |nonce: &str, code: &Value| json!({ "nonce": nonce, "code": code, "list_id": list, "scanned_at": when, "device_result": "valid" });
    let reused = offline("n1", &issued[1]["code"]);
    let problem = app
        .post("/gate/scans:batch", &dev, json!({ "scans": [reused] }))
        .await
        .expect_problem(409, "nonce_reused");
    assert_eq!(problem["field"], "scans[0].nonce");
    let a = offline("o1", &issued[1]["code"]);
    let b = offline("o1", &json!("not-a-code"));
    let problem = app
        .post(
            "/gate/scans:batch",
            &dev,
            json!({ "scans": [a.clone(), b] }),
        )
        .await
        .expect_problem(409, "nonce_reused");
    assert_eq!(problem["field"], "scans[1].nonce");
    assert_eq!(app.count("scans").await, scans, "nothing recorded");
    // The same scan twice in an upload is one scan.
    let twice = app
        .post(
            "/gate/scans:batch",
            &dev,
            json!({ "scans": [a.clone(), a] }),
        )
        .await
        .expect(200);
    assert_eq!(twice["results"][0]["answer"], twice["results"][1]["answer"]);
    assert_eq!(app.count("scans").await, scans + 1);
}
