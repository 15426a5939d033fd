//! The ticket page shows the event in its own time zone, with its venue; time zones are
//! checked against the IANA database.

use serde_json::{Value, json};

use crate::helpers::{Auth, TestApp};
use crate::on_both_databases;

on_both_databases!(
    the_ticket_page_shows_local_time_and_venue,
    unknown_time_zones_are_refused,
);

/// A free ticket for an event made with `event` over the defaults; its public JSON.
async fn free_ticket(app: &TestApp, event: Value) -> (String, Value) {
    let owner = app.signup("owner@example.com").await;
    let ev = app.ga_event(&owner, 5, event, json!({ "price": 0 })).await;
    let order = app
        .checkout_anonymously(&owner.org_id, &ev, 1, "siti@example.com", "Siti")
        .await;
    let code = order["order"]["tickets"][0]["code"]
        .as_str()
        .unwrap()
        .to_string();
    let public = app.ticket_json(&code).await;
    (code, public)
}

async fn page(app: &TestApp, code: &str) -> String {
    app.client
        .get(format!("{}/t/{code}", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// What a person sees of a page: its text without tags, styles and attributes.
fn visible_text(html: &str) -> String {
    let body = html.split_once("</style>").map_or(html, |(_, b)| b);
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

async fn the_ticket_page_shows_local_time_and_venue(app: TestApp) {
    // 19:00 in Jakarta (the organization's zone, so the event's) is 12:00 UTC.
    let (code, public) = free_ticket(&app, json!({})).await;
    assert_eq!(public["event_starts_at"], "2030-03-01T12:00:00Z");
    assert_eq!(public["event_timezone"], "Asia/Jakarta");
    assert_eq!(public["event_starts_local"], "Fri, 1 Mar 2030, 19:00 WIB");
    assert_eq!(public["venue"], "JIExpo");
    assert_eq!(public["venue_city"], "Jakarta");
    let html = page(&app, &code).await;
    assert!(
        html.contains("Fri, 1 Mar 2030, 19:00 WIB"),
        "local time with the zone's abbreviation: {html}"
    );
    assert!(
        html.contains("datetime=\"2030-03-01T12:00:00Z\""),
        "the instant stays machine-readable: {html}"
    );
    let shown = visible_text(&html);
    assert!(!shown.contains("12:00"), "not the UTC instant: {shown}");
    assert!(shown.contains("JIExpo, Jakarta"), "{shown}");
}

async fn unknown_time_zones_are_refused(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let event = |timezone: &str| {
        json!({
            "title": { "en": "Java Jazz" },
            "starts_at": "2030-03-01T19:00:00+07:00",
            "ends_at": "2030-03-01T23:00:00+07:00",
            "timezone": timezone,
        })
    };
    // Well shaped, but in no database.
    for zone in ["Asia/Atlantis", "Mars/Olympus_Mons", "Etc/Unknown"] {
        let problem = app
            .post("/admin/events", &auth, event(zone))
            .await
            .expect_problem(400, "validation_failed");
        assert_eq!(problem["field"], "timezone", "{zone}");
        let problem = app
            .patch("/admin/organization", &auth, json!({ "timezone": zone }))
            .await
            .expect_problem(400, "validation_failed");
        assert_eq!(problem["field"], "timezone", "{zone}");
    }
    assert_eq!(app.count("events").await, 0, "nothing written");
    // A real zone is kept in the database's own spelling.
    let made = app
        .post("/admin/events", &auth, event("asia/makassar"))
        .await
        .expect(201);
    assert_eq!(made["timezone"], "Asia/Makassar");
    let org = app
        .patch(
            "/admin/organization",
            &auth,
            json!({ "timezone": "Asia/Jayapura" }),
        )
        .await
        .expect(200);
    assert_eq!(org["timezone"], "Asia/Jayapura");
}
