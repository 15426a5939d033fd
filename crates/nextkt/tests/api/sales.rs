//! An event's sales report: per ticket type, per day and per host.

use serde_json::json;

use crate::helpers::{Auth, TestApp};
use crate::on_both_databases;

on_both_databases!(sales_are_reported_per_type_day_and_host, hosts_are_checked);

async fn sales_are_reported_per_type_day_and_host(app: TestApp) {
    let owner = app.signup("sales@promo.test").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app
        .ga_event(
            &owner,
            100,
            json!({
                "timezone": "Asia/Jakarta",
                "hosts": [
                    { "name": "Java Festival Production", "share_bps": 6000 },
                    { "kisum_company_id": "kisum-co-1", "share_bps": 2500 },
                ],
            }),
            json!({ "price": 100_000 }),
        )
        .await;
    // Two paid orders (2 and 3 tickets) and one left unpaid.
    for (quantity, email) in [(2, "a@buyers.test"), (3, "b@buyers.test")] {
        let order = app
            .checkout_anonymously(&owner.org_id, &ev, quantity, email, "Buyer")
            .await;
        assert_eq!(
            app.pay_by_webhook(&order["order"]["payments"][0]).await,
            "paid"
        );
    }
    app.checkout_anonymously(&owner.org_id, &ev, 1, "c@buyers.test", "Unpaid")
        .await;

    let report = app
        .get(&format!("/admin/events/{}/sales", ev.event_id), &auth)
        .await
        .expect(200);
    assert_eq!(report["orders"], 2);
    assert_eq!(report["tickets_sold"], 5);
    assert_eq!(report["ticket_types"][0]["sold"], 5);
    assert_eq!(report["ticket_types"][0]["capacity"], 100);
    let gross = report["gross"].as_i64().unwrap();
    assert!(
        gross >= 500_000,
        "five tickets of 100,000 and their fees: {gross}"
    );
    assert_eq!(report["refunded"], 0);
    assert_eq!(report["net"], gross);
    let days = report["by_day"].as_array().unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!(days[0]["tickets"], 5);
    assert_eq!(days[0]["gross"], gross);
    let today = service::local_time::local_date(
        nextkt::platform::clock::Clock::now_ms(app.clock.as_ref()),
        "Asia/Jakarta",
    );
    assert_eq!(days[0]["date"], today.as_str());
    assert_eq!(report["by_host"][0]["net"], gross * 6000 / 10_000);
    assert_eq!(report["by_host"][1]["kisum_company_id"], "kisum-co-1");
    assert_eq!(report["by_host"][1]["net"], gross * 2500 / 10_000);
    assert_eq!(
        report["unattributed"],
        gross - gross * 6000 / 10_000 - gross * 2500 / 10_000
    );
    // Another organization cannot read it.
    let other = app.signup("other@promo.test").await;
    app.get(
        &format!("/admin/events/{}/sales", ev.event_id),
        &Auth::bearer(&other.token),
    )
    .await
    .expect_problem(404, "not_found");
}

async fn hosts_are_checked(app: TestApp) {
    let owner = app.signup("hosts@promo.test").await;
    let auth = Auth::bearer(&owner.token);
    let base = json!({
        "title": { "en": "Hosted" },
        "starts_at": "2030-03-01T19:00:00+07:00",
        "ends_at": "2030-03-01T23:00:00+07:00",
    });
    for hosts in [
        json!([{ "name": "A", "share_bps": 6000 }, { "name": "B", "share_bps": 5000 }]),
        json!([{ "share_bps": 100 }]),
        json!([{ "name": "A", "share_bps": -1 }]),
        json!([{ "kisum_company_id": "has space", "share_bps": 1 }]),
    ] {
        let mut body = base.clone();
        body["hosts"] = hosts;
        app.post("/admin/events", &auth, body)
            .await
            .expect_problem(400, "validation_failed");
    }
    let mut body = base.clone();
    body["hosts"] =
        json!([{ "name": "Solo", "kisum_company_id": "kisum-co-9", "share_bps": 10000 }]);
    let event = app.post("/admin/events", &auth, body).await.expect(201);
    assert_eq!(event["hosts"][0]["share_bps"], 10000);
    let id = event["id"].as_str().unwrap();
    let changed = app
        .patch(
            &format!("/admin/events/{id}"),
            &auth,
            json!({ "hosts": [] }),
        )
        .await
        .expect(200);
    assert_eq!(changed["hosts"], json!([]));
}
