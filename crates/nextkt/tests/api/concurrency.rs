//! Many buyers at once, in one process and in two: never more held than exists, never a
//! seat twice.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::{Auth, INTERNAL_KEY, TestApp};
use crate::on_both_databases;

on_both_databases!(
    the_auditor_reports_broken_data,
    a_rush_on_a_scarce_ticket_type,
    a_rush_on_a_block_of_seats,
    two_server_processes_share_one_database,
    one_code_scanned_through_two_processes_is_valid_once,
);

async fn rush(
    base: Vec<String>,
    org_id: &str,
    body_of: impl Fn(usize) -> Value,
    requests: usize,
) -> Vec<(u16, Value)> {
    let client = reqwest::Client::new();
    let mut tasks = JoinSet::new();
    for i in 0..requests {
        let url = format!("{}/consumer/cart/items", base[i % base.len()]);
        let (client, org, body) = (client.clone(), org_id.to_string(), body_of(i));
        tasks.spawn(async move {
            let resp = client
                .post(url)
                .header("x-internal-api-key", INTERNAL_KEY)
                .header("x-tenant", org)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        });
    }
    tasks.join_all().await
}

fn granted_units(results: &[(u16, Value)]) -> i64 {
    results
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| {
            b["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["quantity"].as_i64().unwrap())
                .sum::<i64>()
        })
        .sum()
}

fn assert_only_decisions(results: &[(u16, Value)], refusals: &[&str]) {
    for (status, body) in results {
        assert!(
            *status == 201 || refusals.contains(&body["code"].as_str().unwrap_or("")),
            "unexpected answer {status}: {body}"
        );
    }
}

async fn a_rush_on_a_scarce_ticket_type(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let ev = app.ga_event(&owner, 50, json!({}), json!({})).await;
    let results = rush(
        vec![app.base.clone()],
        &owner.org_id,
        |i| json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": 1 + (i % 3) }),
        300,
    )
    .await;
    assert_only_decisions(&results, &["sold_out", "not_enough_left"]);
    assert_eq!(
        granted_units(&results),
        50,
        "demand exceeds supply: everything sells, nothing more"
    );
    let audit = app.audit(&owner).await;
    crate::helpers::assert_exact(&audit);
    assert_eq!(audit["live_held"], 50);
}

async fn a_rush_on_a_block_of_seats(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let event = app
        .post("/admin/events", &auth, json!({ "title": { "en": "Opera" }, "starts_at": "2030-05-01T19:00:00Z", "ends_at": "2030-05-01T22:00:00Z", "mode": "seated" }))
        .await
        .expect(201);
    let event_id = event["id"].as_str().unwrap().to_string();
    let tt = app
        .post(
            &format!("/admin/events/{event_id}/ticket-types"),
            &auth,
            json!({ "name": "Stalls", "price": 100 }),
        )
        .await
        .expect(201);
    let section = app
        .post(
            &format!("/admin/events/{event_id}/sections"),
            &auth,
            json!({ "name": "S", "ticket_type_id": tt["id"], "layout": ["A:1-12"] }),
        )
        .await
        .expect(201);
    app.post(
        &format!("/admin/events/{event_id}/publish"),
        &auth,
        json!({}),
    )
    .await
    .expect(200);
    let seats: Vec<String> = section["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    // Everyone wants two neighbouring seats in the same short row.
    let results = rush(
        vec![app.base.clone()],
        &owner.org_id,
        |i| {
            let at = i % 11;
            json!({ "event_id": event_id, "seat_ids": [seats[at], seats[at + 1]] })
        },
        120,
    )
    .await;
    assert_only_decisions(&results, &["seat_taken"]);
    let mut claimed: Vec<String> = results
        .iter()
        .filter(|(s, _)| *s == 201)
        .flat_map(|(_, b)| {
            let pair: Vec<String> = b["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string())
                .collect();
            pair
        })
        .collect();
    assert!(!claimed.is_empty());
    let holds_per_seat: Vec<(String, i64)> = sqlx::query_as(
        "SELECT seat_id, COUNT(*) FROM holds WHERE seat_id IS NOT NULL AND status = 'active' GROUP BY seat_id",
    )
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    assert!(
        holds_per_seat.iter().all(|(_, n)| *n == 1),
        "{holds_per_seat:?}"
    );
    assert_eq!(holds_per_seat.len(), claimed.len());
    claimed.sort();
    claimed.dedup();
    assert_eq!(holds_per_seat.len(), claimed.len());
    let audit = app.audit(&owner).await;
    assert_eq!(
        (audit["duplicate_claims"].as_i64(), audit["drift"].as_i64()),
        (Some(0), Some(0)),
        "{audit}"
    );
}

/// A server process, its address, and where it writes emails (the shared outbox's rows are
/// delivered by whichever process leases them first).
struct Server(Child, String, #[allow(dead_code)] tempfile::TempDir);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(database_url: &str) -> Server {
    let mail_dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nextkt"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            database_url,
            "--internal-api-key",
            INTERNAL_KEY,
        ])
        .args(["--auth-rate-per-ip", "10000", "--db-max-connections", "4"])
        .arg("--mail-dir")
        .arg(mail_dir.path())
        .env("NEXTKT_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("nextkt listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    Server(child, base, mail_dir)
}

async fn two_server_processes_share_one_database(app: TestApp) {
    let url = app.state.config.database.database_url.clone();
    let owner = app.signup("owner@example.com").await;
    let ev = app.ga_event(&owner, 100, json!({}), json!({})).await;
    let (a, b) = tokio::task::spawn_blocking(move || (start_server(&url), start_server(&url)))
        .await
        .unwrap();
    let results = rush(
        vec![a.1.clone(), b.1.clone()],
        &owner.org_id,
        |i| json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": 1 + (i % 2) }),
        300,
    )
    .await;
    assert_only_decisions(&results, &["sold_out", "not_enough_left"]);
    assert_eq!(granted_units(&results), 100);
    drop((a, b));

    // The offline audit of the stored data agrees.
    let url = app.state.config.database.database_url.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_nextkt"))
            .args(["audit", "--database-url", &url])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let report: Value = serde_json::from_str(stdout.trim_end().lines().last().unwrap()).unwrap();
    assert_eq!(report["oversold"], 0);
    assert_eq!(report["duplicate_claims"], 0);
    assert_eq!(report["drift"], 0);
    assert_eq!(report["live_held"], 100);
}

async fn the_auditor_reports_broken_data(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let ev = app.ga_event(&owner, 5, json!({}), json!({})).await;
    app.add_to_cart(
        &owner.org_id,
        None,
        json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": 4 }),
    )
    .await
    .expect(201);
    let audit = app.audit(&owner).await;
    crate::helpers::assert_exact(&audit);
    let metrics = app.get("/metrics", &Auth::None).await.expect(200);
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("nextkt_reservations_total")
    );

    // Break the data behind the server's back: the counter drifts and the pool is oversold.
    sqlx::query(
        "UPDATE inventory_pools SET held = held + 1, capacity = 3 WHERE ticket_type_id = $1",
    )
    .bind(ev.ticket_type_id.clone())
    .execute(&app.state.db.pool)
    .await
    .unwrap();
    let audit = app.audit(&owner).await;
    assert_eq!(audit["oversold"], 1);
    assert_eq!(audit["drift"], 1);
    let url = app.state.config.database.database_url.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_nextkt"))
            .args(["audit", "--database-url", &url])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        !output.status.success(),
        "nextkt audit fails on an oversold pool"
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let report: Value = serde_json::from_str(stdout.trim_end().lines().last().unwrap()).unwrap();
    assert_eq!(report["oversold"], 1);
}

async fn one_code_scanned_through_two_processes_is_valid_once(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app
        .ga_event(&owner, 10, json!({}), json!({ "price": 0 }))
        .await;
    let list_id = crate::gate::checkin_list(&app, &auth, &ev.event_id, "Main").await;
    let list_id = list_id.as_str();
    let mut tokens = Vec::new();
    for _ in 0..3 {
        match crate::gate::device(&app, &auth, &[list_id]).await {
            Auth::Bearer(token) => tokens.push(token),
            _ => unreachable!(),
        }
    }
    let codes: Vec<String> = crate::gate::tickets(&app, &owner.org_id, &ev, 10)
        .await
        .iter()
        .map(|t| t["qr_payload"].as_str().unwrap().to_string())
        .collect();
    let url = app.state.config.database.database_url.clone();
    let (a, b) = tokio::task::spawn_blocking(move || (start_server(&url), start_server(&url)))
        .await
        .unwrap();
    // Every code from three gates at once: two other processes and this one.
    let bases = [a.1.clone(), b.1.clone(), app.base.clone()];
    let mut tasks = JoinSet::new();
    for (c, code) in codes.iter().enumerate() {
        for i in 0..12 {
            let (client, base, token) = (
                app.client.clone(),
                bases[i % 3].clone(),
                tokens[i % 3].clone(),
            );
            let body = json!({ "nonce": format!("{c}-{i}"), "code": code, "gate": format!("gate-{}", i % 3) });
            tasks.spawn(async move {
                let resp = client
                    .post(format!("{base}/gate/scans"))
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let answer: Value = resp.json().await.unwrap();
                (c, answer["result"].as_str().unwrap_or("error").to_string())
            });
        }
    }
    let results = tasks.join_all().await;
    for c in 0..codes.len() {
        let mine: Vec<&str> = results
            .iter()
            .filter(|(i, _)| *i == c)
            .map(|(_, r)| r.as_str())
            .collect();
        assert_eq!(
            mine.iter().filter(|r| **r == "valid").count(),
            1,
            "{mine:?}"
        );
        assert_eq!(
            mine.iter().filter(|r| **r == "already_used").count(),
            11,
            "{mine:?}"
        );
    }
    drop((a, b));
}
