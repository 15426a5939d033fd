//! Base subscriptions and addons: the one-base rule, trials, versions, history, the feed.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, strings};
use crate::on_both_databases;

on_both_databases!(
    a_trial_starts_is_paid_and_switches_persona_only_when_asked,
    exactly_one_of_two_concurrent_first_subscriptions_wins,
    the_database_refuses_a_second_live_base_subscription,
    a_trial_ends_at_read_time_and_the_sweeper_records_it,
    a_company_gets_one_trial_in_its_life,
    addons_need_a_live_base_that_accepts_them,
    a_past_due_addon_never_touches_the_paid_base,
    bad_changes_are_refused_and_write_nothing,
    every_change_reaches_the_feed_in_order_with_its_snapshot,
);

async fn a_trial_starts_is_paid_and_switches_persona_only_when_asked(app: TestApp) {
    let company = app.new_company("Promo Co").await;
    let started = app
        .set_subscription(
            &company,
            json!({ "package": "basic_promoter", "status": "trial" }),
        )
        .await
        .expect(200);
    assert_eq!(started["baseModule"], "promoter");
    assert_eq!(strings(&started["enabledModules"]), ["promoter"]);
    assert_eq!(started["subscription"]["status"], "trial");
    assert_eq!(started["entitlementVersion"], 1);
    assert!(started["subscription"]["trialEndsAt"].is_string());
    let company_row = app
        .internal(Method::GET, &format!("/internal/companies/{company}"), None)
        .await
        .expect(200);
    assert_eq!(company_row["hadTrial"], true);

    // The same request again changes nothing and makes no version.
    let again = app
        .set_subscription(
            &company,
            json!({ "package": "basic_promoter", "status": "trial" }),
        )
        .await
        .expect(200);
    assert_eq!(again["entitlementVersion"], 1);

    let paid = app
        .set_subscription(
            &company,
            json!({ "package": "basic_promoter", "status": "active", "source": "checkout", "actor": "xendit" }),
        )
        .await
        .expect(200);
    assert_eq!(paid["subscription"]["status"], "active");
    assert!(paid["subscription"]["trialEndsAt"].is_null());
    assert_eq!(paid["entitlementVersion"], 2);

    // Another package replaces the persona only when the caller says so.
    app.set_subscription(
        &company,
        json!({ "package": "basic_venue", "status": "active" }),
    )
    .await
    .expect_problem(409, "package_switch_required");
    let switched = app
        .set_subscription(
            &company,
            json!({ "package": "basic_venue", "status": "active", "switch": true }),
        )
        .await
        .expect(200);
    assert_eq!(switched["baseModule"], "venue");
    assert_eq!(switched["subscription"]["audience"], "venue");
    assert_eq!(switched["entitlementVersion"], 3);

    let history = app
        .internal(
            Method::GET,
            &format!("/internal/companies/{company}/history"),
            None,
        )
        .await
        .expect(200);
    let kinds: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["changeType"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "package_switched",
            "subscription_changed",
            "subscription_started"
        ]
    );
    let paid_entry = &history["items"][1];
    assert_eq!(paid_entry["source"], "checkout");
    assert_eq!(paid_entry["actor"], "xendit");
    assert_eq!(paid_entry["before"]["subscription"]["status"], "trial");
    assert_eq!(paid_entry["after"]["subscription"]["status"], "active");
    assert_eq!(paid_entry["version"], 2);
}

async fn exactly_one_of_two_concurrent_first_subscriptions_wins(app: TestApp) {
    for round in 0..5 {
        let company = app.new_company(&format!("Race {round}")).await;
        let (a, b) = tokio::join!(
            app.set_subscription(
                &company,
                json!({ "package": "basic_promoter", "status": "active" })
            ),
            app.set_subscription(
                &company,
                json!({ "package": "basic_artist", "status": "active" })
            ),
        );
        let statuses = [a.status, b.status];
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "exactly one wins: {statuses:?} {} {}",
            a.body,
            b.body
        );
        let loser = if a.status == 200 { &b } else { &a };
        assert_eq!(loser.status, 409);
        assert!(
            ["package_switch_required", "subscription_conflict"].contains(&loser.code()),
            "{}",
            loser.body
        );
        let owned = app.entitlements(&company).await;
        assert_eq!(owned["entitlementVersion"], 1);
        assert_eq!(strings(&owned["enabledModules"]).len(), 1);
    }
}

async fn the_database_refuses_a_second_live_base_subscription(app: TestApp) {
    let company = app.new_company("Backstop").await;
    app.set_subscription(
        &company,
        json!({ "package": "basic_promoter", "status": "active" }),
    )
    .await
    .expect(200);
    // Written behind the service's back: the partial unique index still says no.
    let second = sqlx::query(
        "INSERT INTO company_subscriptions (id, company_id, package, status, started_at, updated_at) \
         VALUES ('sneaky', $1, 'basic_venue', 'trial', 0, 0)",
    )
    .bind(&company)
    .execute(&app.state.db.pool)
    .await;
    let err = second.expect_err("a second live row is refused");
    assert!(service::error::is_unique_violation(&err), "{err}");
    // A row that is not live is history and may sit beside it.
    sqlx::query(
        "INSERT INTO company_subscriptions (id, company_id, package, status, started_at, updated_at) \
         VALUES ('old', $1, 'basic_venue', 'canceled', 0, 0)",
    )
    .bind(&company)
    .execute(&app.state.db.pool)
    .await
    .expect("an ended row is fine");
}

async fn a_trial_ends_at_read_time_and_the_sweeper_records_it(app: TestApp) {
    let company = app.new_company("Trialist").await;
    app.set_subscription(
        &company,
        json!({ "package": "basic_promoter", "status": "trial" }),
    )
    .await
    .expect(200);
    app.set_addon(&company, "finance", json!({ "status": "trial" }))
        .await
        .expect(200);
    assert_eq!(app.sweep().await, 0, "nothing due on day 0");

    // Day 12 of 14: both trials end within 3 days; one notice each, once.
    app.clock.advance_secs(12 * 86_400);
    assert_eq!(app.sweep().await, 2);
    assert_eq!(app.sweep().await, 0);
    let owned = app.entitlements(&company).await;
    assert_eq!(owned["entitlementVersion"], 4);
    assert_eq!(strings(&owned["enabledModules"]), ["promoter", "finance"]);

    // Past the end: not live at read time, before any job runs.
    app.clock.advance_secs(3 * 86_400);
    let owned = app.entitlements(&company).await;
    assert_eq!(owned["enabledModules"], json!([]));
    assert!(owned["baseModule"].is_null());
    assert_eq!(owned["subscription"]["status"], "expired");
    assert_eq!(owned["addons"][0]["status"], "expired");
    assert_eq!(owned["entitlementVersion"], 4, "not recorded yet");

    assert_eq!(app.sweep().await, 2, "base and addon expiries recorded");
    let owned = app.entitlements(&company).await;
    assert_eq!(owned["entitlementVersion"], 6);
    let history = app
        .internal(
            Method::GET,
            &format!("/internal/companies/{company}/history"),
            None,
        )
        .await
        .expect(200);
    let kinds: Vec<(&str, &str)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["changeType"].as_str().unwrap(),
                h["source"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        &kinds[..4],
        [
            ("trial_expired", "system"),
            ("trial_expired", "system"),
            ("trial_ending", "system"),
            ("trial_ending", "system"),
        ]
    );
}

async fn a_company_gets_one_trial_in_its_life(app: TestApp) {
    let company = app.new_company("Once").await;
    app.set_subscription(
        &company,
        json!({ "package": "basic_artist", "status": "trial" }),
    )
    .await
    .expect(200);
    app.set_subscription(
        &company,
        json!({ "package": "basic_artist", "status": "canceled" }),
    )
    .await
    .expect(200);
    app.set_subscription(
        &company,
        json!({ "package": "basic_artist", "status": "trial" }),
    )
    .await
    .expect_problem(422, "trial_already_used");
    app.set_subscription(
        &company,
        json!({ "package": "basic_promoter", "status": "trial" }),
    )
    .await
    .expect_problem(422, "trial_already_used");
    let paid = app
        .set_subscription(
            &company,
            json!({ "package": "basic_artist", "status": "active" }),
        )
        .await
        .expect(200);
    // An addon trial comes only with the first trial (or alongside a base trial).
    app.set_addon(&company, "finance", json!({ "status": "trial" }))
        .await
        .expect_problem(422, "trial_already_used");
    let company_row = app
        .internal(Method::GET, &format!("/internal/companies/{company}"), None)
        .await
        .expect(200);
    assert_eq!(company_row["hadTrial"], true, "never cleared");
    assert_eq!(paid["subscription"]["status"], "active");

    // Vendors have no trial at all.
    let vendor = app.new_company("Vendor").await;
    app.set_subscription(
        &vendor,
        json!({ "package": "basic_vendor", "status": "trial" }),
    )
    .await
    .expect_problem(422, "trial_not_available");
}

async fn addons_need_a_live_base_that_accepts_them(app: TestApp) {
    let company = app.new_company("Venue Co").await;
    app.set_addon(&company, "finance", json!({ "status": "active" }))
        .await
        .expect_problem(422, "base_subscription_required");
    app.set_subscription(
        &company,
        json!({ "package": "basic_venue", "status": "active" }),
    )
    .await
    .expect(200);
    app.set_addon(&company, "venue_marketplace", json!({ "status": "active" }))
        .await
        .expect_problem(422, "addon_not_available");
    app.set_addon(&company, "crm", json!({ "status": "active" }))
        .await
        .expect_problem(404, "not_found");
    let with_finance = app
        .set_addon(&company, "finance", json!({ "status": "active" }))
        .await
        .expect(200);
    assert_eq!(
        strings(&with_finance["enabledModules"]),
        ["venue", "finance"]
    );
    // The base goes: the addon row stays but enables nothing.
    let canceled = app
        .set_subscription(
            &company,
            json!({ "package": "basic_venue", "status": "canceled" }),
        )
        .await
        .expect(200);
    assert_eq!(canceled["enabledModules"], json!([]));
    assert_eq!(canceled["addons"][0]["status"], "active");
    assert_eq!(canceled["addons"][0]["enabled"], false);
    // Switching persona never happens through an addon, and an addon never needs a switch.
    app.set_subscription(
        &company,
        json!({ "package": "basic_promoter", "status": "active" }),
    )
    .await
    .expect(200);
    let owned = app.entitlements(&company).await;
    assert_eq!(strings(&owned["enabledModules"]), ["promoter", "finance"]);
    app.set_addon(&company, "finance", json!({ "status": "canceled" }))
        .await
        .expect(200);
    let owned = app.entitlements(&company).await;
    assert_eq!(strings(&owned["enabledModules"]), ["promoter"]);
    assert_eq!(owned["baseModule"], "promoter");
}

async fn a_past_due_addon_never_touches_the_paid_base(app: TestApp) {
    let company = app.new_company("Late payer").await;
    app.set_subscription(
        &company,
        json!({ "package": "basic_promoter", "status": "active" }),
    )
    .await
    .expect(200);
    app.set_addon(&company, "ai", json!({ "status": "active" }))
        .await
        .expect(200);
    let late = app
        .set_addon(&company, "ai", json!({ "status": "past_due" }))
        .await
        .expect(200);
    assert_eq!(
        strings(&late["enabledModules"]),
        ["promoter", "ai"],
        "grace keeps it"
    );
    assert_eq!(late["subscription"]["status"], "active");
    // Grace (7 days) runs out: the addon expires, the paid base is untouched.
    app.clock.advance_secs(8 * 86_400);
    assert_eq!(app.sweep().await, 1);
    let owned = app.entitlements(&company).await;
    assert_eq!(strings(&owned["enabledModules"]), ["promoter"]);
    assert_eq!(owned["subscription"]["status"], "active");
    assert_eq!(owned["addons"][0]["status"], "expired");
    // Bought again later: live again.
    app.set_addon(&company, "ai", json!({ "status": "active" }))
        .await
        .expect(200);
    let owned = app.entitlements(&company).await;
    assert_eq!(strings(&owned["enabledModules"]), ["promoter", "ai"]);
}

async fn bad_changes_are_refused_and_write_nothing(app: TestApp) {
    let company = app.new_company("Careful").await;
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({ "package": "basic_promoter", "status": "gold" }),
            400,
            "validation_failed",
        ),
        (
            json!({ "package": "platinum", "status": "active" }),
            422,
            "unknown_package",
        ),
        (
            json!({ "package": "basic_promoter", "status": "canceled" }),
            409,
            "no_live_subscription",
        ),
        (
            json!({ "package": "basic_promoter", "status": "trial", "trialEndsAt": "2001-01-01T00:00:00Z" }),
            400,
            "validation_failed",
        ),
        (
            json!({ "package": "basic_promoter", "status": "trial", "trialEndsAt": "next week" }),
            400,
            "validation_failed",
        ),
        (
            json!({ "package": "basic_promoter", "status": "active", "source": "intern" }),
            400,
            "validation_failed",
        ),
    ];
    for (body, status, code) in cases {
        app.set_subscription(&company, body)
            .await
            .expect_problem(status, code);
    }
    app.set_subscription(
        "no-such-company",
        json!({ "package": "basic_promoter", "status": "active" }),
    )
    .await
    .expect_problem(404, "not_found");
    let owned = app.entitlements(&company).await;
    assert_eq!(owned["entitlementVersion"], 0);
    let company_row = app
        .internal(Method::GET, &format!("/internal/companies/{company}"), None)
        .await
        .expect(200);
    assert_eq!(
        company_row["hadTrial"], false,
        "a refused trial is not a trial"
    );
    // An active subscription cannot go back to trial.
    app.set_subscription(
        &company,
        json!({ "package": "basic_promoter", "status": "active" }),
    )
    .await
    .expect(200);
    app.set_subscription(
        &company,
        json!({ "package": "basic_promoter", "status": "trial" }),
    )
    .await
    .expect_problem(422, "invalid_transition");
    assert_eq!(app.entitlements(&company).await["entitlementVersion"], 1);
}

async fn every_change_reaches_the_feed_in_order_with_its_snapshot(app: TestApp) {
    let a = app.new_company("A").await;
    let b = app.new_company("B").await;
    app.set_subscription(
        &a,
        json!({ "package": "basic_promoter", "status": "active" }),
    )
    .await
    .expect(200);
    app.set_subscription(&b, json!({ "package": "basic_venue", "status": "active" }))
        .await
        .expect(200);
    app.set_addon(&a, "finance", json!({ "status": "active" }))
        .await
        .expect(200);
    let feed = app
        .internal(Method::GET, "/internal/events?after=0&limit=2", None)
        .await
        .expect(200);
    let events = feed["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["seq"], 1);
    assert_eq!(events[0]["type"], "company.entitlements.changed");
    assert_eq!(events[0]["companyId"], a.as_str());
    assert_eq!(events[1]["companyId"], b.as_str());
    let next = feed["nextAfter"].as_i64().unwrap();
    let rest = app
        .internal(Method::GET, &format!("/internal/events?after={next}"), None)
        .await
        .expect(200);
    let last = &rest["events"][0];
    assert_eq!(last["seq"], 3);
    assert_eq!(last["payload"]["reason"], "addon_changed");
    assert_eq!(last["payload"]["entitlementVersion"], 2);
    assert_eq!(
        strings(&last["payload"]["snapshot"]["enabledModules"]),
        ["promoter", "finance"]
    );
    let empty = app
        .internal(Method::GET, "/internal/events?after=3", None)
        .await
        .expect(200);
    assert_eq!(empty["events"], json!([]));
    assert_eq!(empty["nextAfter"], 3);
    app.internal(Method::GET, "/internal/events?after=-1", None)
        .await
        .expect_problem(400, "validation_failed");
}
