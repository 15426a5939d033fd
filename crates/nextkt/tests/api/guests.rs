//! Guest lists (complimentary tickets through the oversell core, CSV import) and the gate's
//! reports (attendee search, CSV export, check-in counts).

use serde_json::{Value, json};

use crate::gate::{checkin_list, device, scan, tickets};
use crate::helpers::{Auth, TestApp, assert_exact};
use crate::on_both_databases;

on_both_databases!(
    guests_get_complimentary_tickets_within_capacity,
    a_csv_import_is_all_or_nothing,
    reports_find_count_and_export_attendees
);

async fn guests_get_complimentary_tickets_within_capacity(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app
        .ga_event(&owner, 5, json!({}), json!({ "price": 250000 }))
        .await;
    let path = format!("/admin/events/{}/guest-list", ev.event_id);
    let guest = app
        .post(
            &path,
            &auth,
            json!({ "name": "Raisa", "email": "raisa@example.com", "ticket_type_id": ev.ticket_type_id,
                "quantity": 2, "note": "+1" }),
        )
        .await
        .expect(201);
    assert_eq!(guest["quantity"], 2);
    assert_eq!(guest["source"], "manual");
    assert_eq!(guest["arrived"], false);
    let codes: Vec<&str> = guest["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 2);
    let email = app.last_email("guest_ticket", "raisa@example.com").await;
    assert_eq!(email["tickets"].as_array().unwrap().len(), 2);
    // A complimentary order: nothing to pay, and it counts as sold.
    let order = app
        .get(
            &format!("/admin/orders/{}", guest["order_id"].as_str().unwrap()),
            &auth,
        )
        .await
        .expect(200);
    assert_eq!(
        (order["status"].as_str(), order["total"].as_i64()),
        (Some("paid"), Some(0))
    );
    assert_exact(&app.audit(&owner).await);
    let inventory = app
        .get(
            &format!("/admin/events/{}/ticket-types", ev.event_id),
            &auth,
        )
        .await
        .expect(200)["items"]
        .clone();
    assert_eq!(inventory[0]["sold"], 2, "{inventory}");

    // Buyers hold two; three more guests do not fit, and nothing is written.
    app.add_to_cart(
        &owner.org_id,
        None,
        json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": 2 }),
    )
    .await
    .expect(201);
    let before = (
        app.count("guests").await,
        app.count("tickets").await,
        app.count("orders").await,
    );
    app.post(
        &path,
        &auth,
        json!({ "name": "Afgan", "email": "afgan@example.com", "ticket_type_id": ev.ticket_type_id, "quantity": 2 }),
    )
    .await
    .expect_problem(422, "sold_out");
    for bad in [
        json!({ "name": "", "email": "a@example.com", "ticket_type_id": ev.ticket_type_id }),
        json!({ "name": "A", "email": "nope", "ticket_type_id": ev.ticket_type_id }),
        json!({ "name": "A", "email": "a@example.com", "ticket_type_id": "missing" }),
        json!({ "name": "A", "email": "a@example.com", "ticket_type_id": ev.ticket_type_id, "quantity": 0 }),
    ] {
        app.post(&path, &auth, bad)
            .await
            .expect_problem(400, "validation_failed");
    }
    let (_, viewer) = app.api_key(&owner, "viewer").await;
    app.post(
        &path,
        &Auth::bearer(&viewer),
        json!({ "name": "A", "email": "a@example.com", "ticket_type_id": ev.ticket_type_id }),
    )
    .await
    .expect_problem(403, "forbidden");
    assert_eq!(
        (
            app.count("guests").await,
            app.count("tickets").await,
            app.count("orders").await
        ),
        before
    );
    // The last unit fits.
    app.post(
        &path,
        &auth,
        json!({ "name": "Afgan", "email": "afgan@example.com", "ticket_type_id": ev.ticket_type_id, "send_email": false }),
    )
    .await
    .expect(201);
    assert_exact(&app.audit(&owner).await);

    // Guests go in like anyone; the list shows who arrived. Another organization sees none.
    let list = checkin_list(&app, &auth, &ev.event_id, "Main").await;
    let dev = device(&app, &auth, &[&list]).await;
    let answer = scan(&app, &dev, json!({ "nonce": "g1", "code": codes[0] })).await;
    assert_eq!(answer["result"], "valid");
    assert_eq!(answer["ticket"]["holder_name"], "Raisa");
    let listed = app.get(&path, &auth).await.expect(200)["items"].clone();
    let arrived: Vec<(&str, bool)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["name"].as_str().unwrap(), g["arrived"].as_bool().unwrap()))
        .collect();
    assert_eq!(arrived, [("Raisa", true), ("Afgan", false)]);
    assert!(listed[0]["tickets"][0]["arrived_at"].is_string());
    let stranger = app.signup("stranger@example.com").await;
    app.get(&path, &Auth::bearer(&stranger.token))
        .await
        .expect_problem(404, "not_found");
}

async fn import(app: &TestApp, auth: &Auth, event_id: &str, csv: &str) -> crate::helpers::Resp {
    app.post_text(
        &format!("/admin/events/{event_id}/guest-list/import?send_email=false"),
        auth,
        "text/csv",
        csv,
    )
    .await
}

async fn a_csv_import_is_all_or_nothing(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app
        .ga_event(&owner, 10, json!({}), json!({ "price": 0 }))
        .await;
    app.post(
        &format!("/admin/events/{}/ticket-types", ev.event_id),
        &auth,
        json!({ "name": "Backstage", "price": 0, "capacity": 3 }),
    )
    .await
    .expect(201);
    let counts = || async {
        (
            app.count("guests").await,
            app.count("tickets").await,
            app.count("orders").await,
            app.count("outbox").await,
        )
    };
    let before = counts().await;

    // Every bad line is named; nothing is imported.
    let bad = "name,email,ticket_type,quantity,note\r\n\
        Ari,ari@example.com,GA,1,\r\n\
        ,nobody@example.com,GA,1,\r\n\
        Bunga,not-an-email,GA,1,\r\n\
        Citra,citra@example.com,Balcony,1,\r\n\
        Dodi,dodi@example.com,GA,0,\r\n\
        Eka,eka@example.com,GA\r\n\
        Ari again,ARI@example.com,GA,2,\r\n";
    let failed = import(&app, &auth, &ev.event_id, bad)
        .await
        .expect_problem(422, "import_failed");
    let errors: Vec<(u64, &str)> = failed["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["field"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (3, "name"),
            (4, "email"),
            (5, "ticket_type"),
            (6, "quantity"),
            (7, ""),
            (8, "email")
        ],
        "{failed:#}"
    );
    assert_eq!(counts().await, before);
    // A missing column, an unknown one, an empty file, an unclosed quote, not CSV.
    for (csv, line) in [
        ("name,email\nAri,ari@example.com\n", 1),
        (
            "name,email,ticket_type,seat\nAri,ari@example.com,GA,A1\n",
            1,
        ),
        ("", 1),
        ("name,email,ticket_type\n\"Ari,ari@example.com,GA\n", 2),
        (
            "name,email,ticket_type\nAri,ari@example.com,GA\n\"Bo\" B,b@example.com,GA\n",
            3,
        ),
        (
            "name,email,ticket_type,name\nAri,ari@example.com,GA,Ari\n",
            1,
        ),
    ] {
        let failed = import(&app, &auth, &ev.event_id, csv)
            .await
            .expect_problem(422, "import_failed");
        assert_eq!(failed["errors"][0]["line"], line, "{csv:?}: {failed}");
    }
    app.post(
        &format!("/admin/events/{}/guest-list/import", ev.event_id),
        &auth,
        json!({ "name": "Ari" }),
    )
    .await
    .expect_problem(415, "unsupported_media_type");
    // More guests than the ticket type has left: nothing is imported.
    let too_many = "name,email,ticket_type,quantity\nA,a@example.com,Backstage,2\nB,b@example.com,Backstage,2\n";
    import(&app, &auth, &ev.event_id, too_many)
        .await
        .expect_problem(422, "sold_out");
    assert_eq!(counts().await, before);

    // A good file: quoted names, CRLF, a BOM, types by name or id, default quantity.
    let good = format!(
        "\u{feff}Name,Email,Ticket_Type,Quantity,Note\r\n\
         \"Wijaya, Andi\",andi@example.com,GA,2,\"said \"\"hi\"\"\"\r\n\
         Bunga,bunga@example.com,backstage,,\r\n\
         Citra,citra@example.com,{},1,press\r\n",
        ev.ticket_type_id
    );
    let done = import(&app, &auth, &ev.event_id, &good).await.expect(201);
    assert_eq!(
        (done["imported"].as_i64(), done["tickets"].as_i64()),
        (Some(3), Some(4))
    );
    let listed = app
        .get(&format!("/admin/events/{}/guest-list", ev.event_id), &auth)
        .await
        .expect(200)["items"]
        .clone();
    let rows: Vec<(&str, i64, &str, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap(),
                g["quantity"].as_i64().unwrap(),
                g["note"].as_str().unwrap(),
                g["source"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("Wijaya, Andi", 2, "said \"hi\"", "csv"),
            ("Bunga", 1, "", "csv"),
            ("Citra", 1, "press", "csv")
        ]
    );
    assert_eq!(app.count("tickets").await, before.1 + 4);
    assert_exact(&app.audit(&owner).await);
    // The same file again adds no one twice: each guest already there is named.
    let again = import(&app, &auth, &ev.event_id, &good)
        .await
        .expect_problem(422, "import_failed");
    let lines: Vec<u64> = again["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [2, 3, 4], "{again}");
    assert_eq!(app.count("guests").await, before.0 + 3);
}

async fn reports_find_count_and_export_attendees(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app
        .ga_event(&owner, 10, json!({}), json!({ "price": 0 }))
        .await;
    let sold = tickets(&app, &owner.org_id, &ev, 2).await;
    app.post(
        &format!("/admin/events/{}/guest-list", ev.event_id),
        &auth,
        json!({ "name": "=HYPERLINK(\"x\")", "email": "formula@example.com", "ticket_type_id": ev.ticket_type_id }),
    )
    .await
    .expect(201);
    let guest = app
        .post(
            &format!("/admin/events/{}/guest-list", ev.event_id),
            &auth,
            json!({ "name": "Maudy Ayunda", "email": "maudy@example.com", "ticket_type_id": ev.ticket_type_id }),
        )
        .await
        .expect(201);
    app.post(
        &format!("/admin/events/{}/guest-list", ev.event_id),
        &auth,
        json!({ "name": "Élodie Ñúñez", "email": "elodie@example.com", "ticket_type_id": ev.ticket_type_id }),
    )
    .await
    .expect(201);
    let list = checkin_list(&app, &auth, &ev.event_id, "Main").await;
    let dev = device(&app, &auth, &[&list]).await;
    let guest_code = guest["tickets"][0]["code"].as_str().unwrap();
    for (nonce, code, gate) in [
        ("a", guest_code, "north"),
        ("b", sold[0]["code"].as_str().unwrap(), "south"),
        ("c", guest_code, "south"),
        ("d", "forged", "south"),
    ] {
        scan(
            &app,
            &dev,
            json!({ "nonce": nonce, "code": code, "gate": gate }),
        )
        .await;
    }

    let search = |query: &str| {
        let app = &app;
        let auth = auth.clone();
        let path = format!("/admin/events/{}/guests?{query}", ev.event_id);
        async move { app.get(&path, &auth).await.expect(200) }
    };
    let names = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["holder_name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&search("q=maudy").await), ["Maudy Ayunda"]);
    assert_eq!(names(&search("q=MAUDY%40EXAMPLE").await), ["Maudy Ayunda"]);
    assert_eq!(
        names(&search(&format!("q={guest_code}")).await),
        ["Maudy Ayunda"]
    );
    assert_eq!(search("q=%25").await["items"].as_array().unwrap().len(), 0);
    // Tickets issued before the search text existed are filled in after migrating.
    sqlx::query("UPDATE tickets SET holder_search = '' WHERE holder_email = 'maudy@example.com'")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    // (As in a database upgraded from before the column: the fill-in has not run yet.)
    sqlx::query("DELETE FROM data_fixes")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(
        search("q=maudy").await["items"].as_array().unwrap().len(),
        0
    );
    assert_eq!(
        nextkt::tickets::backfill_search(&app.state.db)
            .await
            .unwrap(),
        1
    );
    // Done once: the next start does not look again.
    assert_eq!(
        nextkt::tickets::backfill_search(&app.state.db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(names(&search("q=ayunda").await), ["Maudy Ayunda"]);
    // Any case, beyond ASCII, on both databases.
    assert_eq!(
        names(&search("q=%C3%A9LODIE%20%C3%B1%C3%9A").await),
        ["Élodie Ñúñez"]
    );
    assert_eq!(search("").await["items"].as_array().unwrap().len(), 5);
    let arrived = search("arrived=true").await;
    assert_eq!(arrived["items"].as_array().unwrap().len(), 2);
    assert!(arrived["items"][0]["arrived_at"].is_string());
    assert_eq!(
        search("arrived=false").await["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        search("kind=complimentary").await["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let first = search("limit=3").await;
    let rest = search(&format!(
        "limit=3&cursor={}",
        first["next_cursor"].as_str().unwrap()
    ))
    .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 2);
    app.get(
        &format!("/admin/events/{}/guests?kind=free", ev.event_id),
        &auth,
    )
    .await
    .expect_problem(400, "validation_failed");

    // CSV export: a header, a row per ticket, formulas defused.
    let resp = app
        .get(
            &format!("/admin/events/{}/guests/export", ev.event_id),
            &auth,
        )
        .await;
    assert_eq!(resp.status, 200);
    assert!(
        resp.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = resp.body.as_str().unwrap().to_string();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 6, "{csv}");
    assert!(lines[0].starts_with("ticket_id,holder_name,holder_email"));
    assert!(csv.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{csv}");
    assert!(csv.contains("Maudy Ayunda,maudy@example.com,GA,complimentary,valid"));

    // Check-in counts per list and gate, arrivals over time.
    let report = app
        .get(
            &format!("/admin/events/{}/checkins?bucket_minutes=60", ev.event_id),
            &auth,
        )
        .await
        .expect(200);
    assert_eq!(report["lists"][0]["expected"], 5);
    assert_eq!(report["lists"][0]["arrived"], 2);
    assert_eq!(report["lists"][0]["inside"], 2);
    let gates: Vec<(&str, i64, i64)> = report["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["gate"].as_str().unwrap(),
                g["admitted"].as_i64().unwrap(),
                g["refused"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(gates, [("north", 1, 0), ("south", 1, 2)]);
    let arrivals: i64 = report["arrivals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["arrivals"].as_i64().unwrap())
        .sum();
    assert_eq!(arrivals, 2);
    app.get(
        &format!("/admin/events/{}/checkins?bucket_minutes=0", ev.event_id),
        &auth,
    )
    .await
    .expect_problem(400, "validation_failed");
    let stranger = app.signup("stranger@example.com").await;
    app.get(
        &format!("/admin/events/{}/guests", ev.event_id),
        &Auth::bearer(&stranger.token),
    )
    .await
    .expect_problem(404, "not_found");
}
