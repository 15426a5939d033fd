//! The finance addon behind the module gate: the chain's answers, the bill state machine,
//! idempotent income, exchange rates and profit and loss.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{SignedUp, TestApp};
use crate::on_both_databases;

on_both_databases!(
    the_gate_answers_each_missing_piece_with_its_code,
    a_bill_moves_through_its_states_by_permission,
    approve_and_reject_at_once_end_with_exactly_one,
    a_repeated_settlement_push_is_a_replay,
    concurrent_pushes_of_one_settlement_make_one_row,
    profit_and_loss_converts_or_refuses,
    bad_finance_input_is_refused_and_writes_nothing,
);

struct Books {
    boss: SignedUp,
    vendor: String,
}

async fn books(app: &TestApp, email: &str) -> Books {
    let boss = app.signup(email, "basic_promoter", &["finance"]).await;
    let vendor = app
        .as_member(
            &boss.token,
            &boss.company,
            Method::POST,
            "/finance/vendors",
            Some(json!({ "name": "Sound & Light", "email": "billing@sound.test" })),
        )
        .await
        .expect(201);
    Books {
        vendor: vendor["id"].as_str().unwrap().to_string(),
        boss,
    }
}

impl Books {
    async fn call(
        &self,
        app: &TestApp,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> crate::helpers::Resp {
        app.as_member(&self.boss.token, &self.boss.company, method, path, body)
            .await
    }

    fn bill(&self, number: &str, amount: i64) -> Value {
        json!({
            "number": number, "vendorId": self.vendor, "category": "production",
            "currency": "IDR", "amount": amount, "tax": amount / 10,
            "issuedOn": "2026-11-01", "dueOn": "2026-11-30", "eventRef": "evt-1",
        })
    }
}

async fn the_gate_answers_each_missing_piece_with_its_code(app: TestApp) {
    let b = books(&app, "gate@promo.test").await;
    let no_finance = app.signup("plain@promo.test", "basic_promoter", &[]).await;
    app.as_member(
        &no_finance.token,
        &no_finance.company,
        Method::GET,
        "/finance/income",
        None,
    )
    .await
    .expect_problem(403, "finance_addon_required");
    app.call(
        Method::GET,
        "/finance/income",
        &[("x-org", b.boss.company.as_str())],
        None,
    )
    .await
    .expect_problem(401, "unauthorized");
    let auth = format!("Bearer {}", b.boss.token);
    app.call(
        Method::GET,
        "/finance/income",
        &[("authorization", auth.as_str())],
        None,
    )
    .await
    .expect_problem(400, "x_org_required");
    app.as_member(
        &b.boss.token,
        &no_finance.company,
        Method::GET,
        "/finance/income",
        None,
    )
    .await
    .expect_problem(403, "not_a_member");

    // A member without the module, then with the module but one permission.
    let clerk = app.user("clerk@promo.test").await;
    b.call(
        &app,
        Method::POST,
        "/auth/members",
        Some(json!({ "email": "clerk@promo.test", "role": "USER" })),
    )
    .await
    .expect(201);
    app.as_member(
        &clerk.token,
        &b.boss.company,
        Method::GET,
        "/finance/income",
        None,
    )
    .await
    .expect_problem(403, "module_not_granted");
    b.call(
        &app,
        Method::PUT,
        &format!("/auth/members/{}/grants", clerk.user_id),
        Some(json!({ "modules": ["finance"], "permissions": ["finance.income.read"] })),
    )
    .await
    .expect(200);
    app.as_member(
        &clerk.token,
        &b.boss.company,
        Method::GET,
        "/finance/income",
        None,
    )
    .await
    .expect(200);
    app.as_member(
        &clerk.token,
        &b.boss.company,
        Method::GET,
        "/finance/bills",
        None,
    )
    .await
    .expect_problem(403, "permission_denied");
    app.as_member(
        &clerk.token,
        &b.boss.company,
        Method::POST,
        "/finance/income",
        Some(json!({ "source": "manual", "currency": "IDR", "amount": 5, "receivedOn": "2026-11-02" })),
    )
    .await
    .expect_problem(403, "permission_denied");

    // The company loses the addon: everyone is stopped at the next request.
    app.set_addon(&b.boss.company, "finance", json!({ "status": "canceled" }))
        .await
        .expect(200);
    app.as_member(
        &clerk.token,
        &b.boss.company,
        Method::GET,
        "/finance/income",
        None,
    )
    .await
    .expect_problem(403, "finance_addon_required");
    b.call(&app, Method::GET, "/finance/bills", None)
        .await
        .expect_problem(403, "finance_addon_required");
}

async fn a_bill_moves_through_its_states_by_permission(app: TestApp) {
    let b = books(&app, "ap@promo.test").await;
    let bill = b
        .call(
            &app,
            Method::POST,
            "/finance/bills",
            Some(b.bill("INV-1", 1_500_000)),
        )
        .await
        .expect(201);
    assert_eq!(bill["status"], "draft");
    assert_eq!(bill["total"], 1_650_000);
    let id = bill["id"].as_str().unwrap().to_string();
    let at = |step: &str| format!("/finance/bills/{id}/{step}");

    // Drafts change; nothing else skips a step.
    let changed = b
        .call(
            &app,
            Method::PATCH,
            &format!("/finance/bills/{id}"),
            Some(json!({ "amount": 2_000_000 })),
        )
        .await
        .expect(200);
    assert_eq!(changed["amount"], 2_000_000);
    b.call(&app, Method::POST, &at("approve"), None)
        .await
        .expect_problem(409, "invalid_transition");
    b.call(&app, Method::POST, &at("submit"), None)
        .await
        .expect(200);
    b.call(
        &app,
        Method::PATCH,
        &format!("/finance/bills/{id}"),
        Some(json!({ "amount": 1 })),
    )
    .await
    .expect_problem(409, "bill_not_draft");

    // An approver without the pay permission approves but cannot pay.
    let approver = app.user("approver@promo.test").await;
    b.call(
        &app,
        Method::POST,
        "/auth/members",
        Some(json!({
            "email": "approver@promo.test", "role": "USER", "modules": ["finance"],
            "permissions": ["finance.bills.read", "finance.bills.approve"],
        })),
    )
    .await
    .expect(201);
    let approved = app
        .as_member(
            &approver.token,
            &b.boss.company,
            Method::POST,
            &at("approve"),
            None,
        )
        .await
        .expect(200);
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["decidedBy"], format!("user:{}", approver.user_id));
    app.as_member(
        &approver.token,
        &b.boss.company,
        Method::POST,
        &at("pay"),
        None,
    )
    .await
    .expect_problem(403, "permission_denied");
    let paid = b
        .call(
            &app,
            Method::POST,
            &at("pay"),
            Some(json!({ "paidOn": "2026-11-20" })),
        )
        .await
        .expect(200);
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["paidOn"], "2026-11-20");
    b.call(&app, Method::POST, &at("void"), None)
        .await
        .expect_problem(409, "invalid_transition");

    // A second bill is rejected (with a reason), then voided.
    let second = b
        .call(
            &app,
            Method::POST,
            "/finance/bills",
            Some(b.bill("INV-2", 100)),
        )
        .await
        .expect(201);
    let second_id = second["id"].as_str().unwrap();
    b.call(
        &app,
        Method::POST,
        &format!("/finance/bills/{second_id}/submit"),
        None,
    )
    .await
    .expect(200);
    b.call(
        &app,
        Method::POST,
        &format!("/finance/bills/{second_id}/reject"),
        None,
    )
    .await
    .expect_problem(400, "validation_failed");
    let rejected = b
        .call(
            &app,
            Method::POST,
            &format!("/finance/bills/{second_id}/reject"),
            Some(json!({ "reason": "duplicate of INV-1" })),
        )
        .await
        .expect(200);
    assert_eq!(rejected["reason"], "duplicate of INV-1");
    b.call(
        &app,
        Method::POST,
        "/finance/bills",
        Some(b.bill("INV-1", 5)),
    )
    .await
    .expect_problem(409, "bill_number_taken");

    let listed = b
        .call(&app, Method::GET, "/finance/bills?status=paid", None)
        .await
        .expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["number"], "INV-1");
    let audit = b
        .call(&app, Method::GET, "/finance/audit", None)
        .await
        .expect(200);
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "bill.rejected",
            "bill.submitted",
            "bill.created",
            "bill.paid",
            "bill.approved",
            "bill.submitted",
            "bill.updated",
            "bill.created",
            "vendor.created",
        ]
    );
}

async fn approve_and_reject_at_once_end_with_exactly_one(app: TestApp) {
    let b = books(&app, "race@promo.test").await;
    for round in 0..5 {
        let bill = b
            .call(
                &app,
                Method::POST,
                "/finance/bills",
                Some(b.bill(&format!("R-{round}"), 1000)),
            )
            .await
            .expect(201);
        let id = bill["id"].as_str().unwrap().to_string();
        b.call(
            &app,
            Method::POST,
            &format!("/finance/bills/{id}/submit"),
            None,
        )
        .await
        .expect(200);
        let approve = format!("/finance/bills/{id}/approve");
        let reject = format!("/finance/bills/{id}/reject");
        let (a, r) = tokio::join!(
            b.call(&app, Method::POST, &approve, None),
            b.call(
                &app,
                Method::POST,
                &reject,
                Some(json!({ "reason": "over budget" }))
            ),
        );
        let (winner, loser, expected) = match (a.status, r.status) {
            (200, 409) => (&a, &r, "approved"),
            (409, 200) => (&r, &a, "rejected"),
            other => panic!("exactly one must win, got {other:?}: {} {}", a.body, r.body),
        };
        assert_eq!(winner.body["status"], expected);
        assert_eq!(loser.code(), "invalid_transition");
        let stored = b
            .call(&app, Method::GET, &format!("/finance/bills/{id}"), None)
            .await
            .expect(200);
        assert_eq!(stored["status"], expected);
    }
}

async fn a_repeated_settlement_push_is_a_replay(app: TestApp) {
    let b = books(&app, "ar@promo.test").await;
    let settlement = json!({
        "source": "ticketing_settlement", "sourceRef": "nextkt:stl_001", "currency": "IDR",
        "amount": 12_500_000, "receivedOn": "2026-11-03", "eventRef": "evt-1",
    });
    let first = b
        .call(
            &app,
            Method::POST,
            "/finance/income",
            Some(settlement.clone()),
        )
        .await;
    assert_eq!(first.status, 201);
    let again = b
        .call(
            &app,
            Method::POST,
            "/finance/income",
            Some(settlement.clone()),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again.body["id"], first.body["id"]);
    let mut altered = settlement.clone();
    altered["amount"] = json!(1);
    b.call(&app, Method::POST, "/finance/income", Some(altered))
        .await
        .expect_problem(409, "source_ref_conflict");
    let mut no_ref = settlement.clone();
    no_ref.as_object_mut().unwrap().remove("sourceRef");
    b.call(&app, Method::POST, "/finance/income", Some(no_ref))
        .await
        .expect_problem(400, "validation_failed");
    // Pushed income keeps its figures.
    let id = first.body["id"].as_str().unwrap();
    b.call(
        &app,
        Method::PATCH,
        &format!("/finance/income/{id}"),
        Some(json!({ "amount": 7 })),
    )
    .await
    .expect_problem(409, "income_locked");
    let described = b
        .call(
            &app,
            Method::PATCH,
            &format!("/finance/income/{id}"),
            Some(json!({ "description": "Night 1" })),
        )
        .await
        .expect(200);
    assert_eq!(described["description"], "Night 1");
    // Another company may use the same reference.
    let other = app
        .signup("other@promo.test", "basic_promoter", &["finance"])
        .await;
    let theirs = app
        .as_member(
            &other.token,
            &other.company,
            Method::POST,
            "/finance/income",
            Some(settlement),
        )
        .await;
    assert_eq!(theirs.status, 201);
    let listed = b
        .call(
            &app,
            Method::GET,
            "/finance/income?source=ticketing_settlement",
            None,
        )
        .await
        .expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}

async fn concurrent_pushes_of_one_settlement_make_one_row(app: TestApp) {
    let b = books(&app, "push@promo.test").await;
    for round in 0..5 {
        let body = json!({
            "source": "ticketing_settlement", "sourceRef": format!("nextkt:stl_{round}"),
            "currency": "IDR", "amount": 1000 + round, "receivedOn": "2026-11-03",
        });
        let (x, y) = tokio::join!(
            b.call(&app, Method::POST, "/finance/income", Some(body.clone())),
            b.call(&app, Method::POST, "/finance/income", Some(body.clone())),
        );
        let mut statuses = [x.status, y.status];
        statuses.sort();
        assert_eq!(statuses, [200, 201], "{} {}", x.body, y.body);
        assert_eq!(x.body["id"], y.body["id"]);
    }
    let listed = b
        .call(&app, Method::GET, "/finance/income", None)
        .await
        .expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 5);
}

async fn profit_and_loss_converts_or_refuses(app: TestApp) {
    let b = books(&app, "pnl@promo.test").await;
    let income = |amount: i64, currency: &str, on: &str, event: &str| json!({ "source": "manual", "currency": currency, "amount": amount, "receivedOn": on, "eventRef": event });
    b.call(
        &app,
        Method::POST,
        "/finance/income",
        Some(income(10_000_000, "IDR", "2026-11-02", "evt-1")),
    )
    .await
    .expect(201);
    b.call(
        &app,
        Method::POST,
        "/finance/income",
        Some(income(10_000, "USD", "2026-11-05", "evt-1")),
    )
    .await
    .expect(201);
    b.call(
        &app,
        Method::POST,
        "/finance/income",
        Some(income(99, "IDR", "2026-11-05", "evt-2")),
    )
    .await
    .expect(201);
    // Committed bills count; a draft does not.
    let bill = b
        .call(
            &app,
            Method::POST,
            "/finance/bills",
            Some(b.bill("P-1", 2_000_000)),
        )
        .await
        .expect(201);
    let id = bill["id"].as_str().unwrap();
    b.call(
        &app,
        Method::POST,
        &format!("/finance/bills/{id}/submit"),
        None,
    )
    .await
    .expect(200);
    b.call(
        &app,
        Method::POST,
        &format!("/finance/bills/{id}/approve"),
        None,
    )
    .await
    .expect(200);
    b.call(
        &app,
        Method::POST,
        "/finance/bills",
        Some(b.bill("P-2", 9_999_999)),
    )
    .await
    .expect(201);

    let report = "/finance/reports/pnl?eventRef=evt-1";
    let missing = b
        .call(&app, Method::GET, report, None)
        .await
        .expect_problem(422, "fx_rate_missing");
    assert!(missing["detail"].as_str().unwrap().contains("USD→IDR"));
    // A rate dated after the income does not apply to it.
    b.call(
        &app,
        Method::PUT,
        "/finance/fx-rates",
        Some(json!({ "date": "2026-11-06", "base": "USD", "quote": "IDR", "rate": "16000" })),
    )
    .await
    .expect(200);
    b.call(&app, Method::GET, report, None)
        .await
        .expect_problem(422, "fx_rate_missing");
    b.call(
        &app,
        Method::PUT,
        "/finance/fx-rates",
        Some(json!({ "date": "2026-11-01", "base": "USD", "quote": "IDR", "rate": "15500.25" })),
    )
    .await
    .expect(200);
    let pnl = b.call(&app, Method::GET, report, None).await.expect(200);
    // 100.00 USD at 15,500.25 = 1,550,025 IDR.
    assert_eq!(pnl["currency"], "IDR");
    assert_eq!(pnl["income"], 10_000_000 + 1_550_025);
    assert_eq!(pnl["expenses"], 2_200_000);
    assert_eq!(pnl["profit"], 10_000_000 + 1_550_025 - 2_200_000);
    assert_eq!(pnl["conversions"], 1);
    assert_eq!(pnl["expensesByCategory"][0]["key"], "production");
    // A period report takes everything dated in it.
    let period = b
        .call(
            &app,
            Method::GET,
            "/finance/reports/pnl?from=2026-11-05&to=2026-11-05",
            None,
        )
        .await
        .expect(200);
    assert_eq!(period["income"], 1_550_025 + 99);
    assert_eq!(period["expenses"], 0);
    let converted = b
        .call(
            &app,
            Method::GET,
            "/finance/fx/convert?amount=1550025&from=IDR&to=USD&date=2026-11-02",
            None,
        )
        .await
        .expect(200);
    assert_eq!(converted["converted"], 10_000);
    assert_eq!(converted["rateDate"], "2026-11-01");
}

async fn bad_finance_input_is_refused_and_writes_nothing(app: TestApp) {
    let b = books(&app, "bad@promo.test").await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "amount": 0 }), "validation_failed"),
        (json!({ "amount": -5 }), "validation_failed"),
        (json!({ "currency": "RUPIAH" }), "validation_failed"),
        (json!({ "dueOn": "2026-13-01" }), "validation_failed"),
        (json!({ "dueOn": "2026-10-01" }), "validation_failed"),
        (json!({ "number": "" }), "validation_failed"),
    ];
    for (change, code) in cases {
        let mut body = b.bill("BAD-1", 100);
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        b.call(&app, Method::POST, "/finance/bills", Some(body))
            .await
            .expect_problem(400, code);
    }
    let mut unknown_vendor = b.bill("BAD-2", 100);
    unknown_vendor["vendorId"] = json!("nope");
    b.call(&app, Method::POST, "/finance/bills", Some(unknown_vendor))
        .await
        .expect_problem(422, "unknown_vendor");
    b.call(
        &app,
        Method::POST,
        "/finance/income",
        Some(json!({ "source": "lottery", "currency": "IDR", "amount": 5, "receivedOn": "2026-11-01" })),
    )
    .await
    .expect_problem(400, "validation_failed");
    for rate in ["0", "-1", "abc", "1e3"] {
        b.call(
            &app,
            Method::PUT,
            "/finance/fx-rates",
            Some(json!({ "date": "2026-11-01", "base": "USD", "quote": "IDR", "rate": rate })),
        )
        .await
        .expect_problem(400, "validation_failed");
    }
    b.call(&app, Method::GET, "/finance/bills/nope", None)
        .await
        .expect_problem(404, "not_found");
    // Nothing was written but the vendor.
    let bills = b
        .call(&app, Method::GET, "/finance/bills", None)
        .await
        .expect(200);
    assert_eq!(bills["items"], json!([]));
    let income = b
        .call(&app, Method::GET, "/finance/income", None)
        .await
        .expect(200);
    assert_eq!(income["items"], json!([]));
    let rates = b
        .call(&app, Method::GET, "/finance/fx-rates", None)
        .await
        .expect(200);
    assert_eq!(rates["rates"], json!([]));
    let audit = b
        .call(&app, Method::GET, "/finance/audit", None)
        .await
        .expect(200);
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
}
