//! Doors opening: scanner devices at several gates scanning tickets at a fixed rate (open
//! loop), with a share of codes scanned again at another gate, forged QRs and another
//! organization's tickets mixed in. Every answer is checked: each ticket is `valid` exactly
//! once, forged and foreign codes are `unknown`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::setup::{self, post};

#[derive(clap::Args, Clone)]
pub struct Args {
    /// Base URL of the server, e.g. http://127.0.0.1:8787
    #[arg(long)]
    url: String,
    /// Create the organizations, event, tickets, check-in list and devices first (through
    /// the public API). The gate run needs it: it must know every ticket it scans.
    #[arg(long)]
    setup: bool,
    /// Tickets issued by --setup (as guest-list tickets, 20 per guest).
    #[arg(long, default_value_t = 20_000)]
    tickets: u64,
    /// Gates, one scanner device each.
    #[arg(long, default_value_t = 4)]
    gates: usize,
    /// Scans per second.
    #[arg(long, default_value_t = 2_000)]
    rate: u64,
    /// Seconds to keep scanning.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Share of scans that repeat an earlier ticket at another gate.
    #[arg(long, default_value_t = 0.03)]
    duplicate_share: f64,
    /// Share of scans of a forged QR (a genuine payload with another ticket's signature).
    #[arg(long, default_value_t = 0.01)]
    forged_share: f64,
    /// Share of scans of another organization's genuine tickets.
    #[arg(long, default_value_t = 0.01)]
    foreign_share: f64,
    /// Most scans in flight at once; later ones wait, and the wait counts in their latency.
    #[arg(long, default_value_t = 256)]
    connections: usize,
}

/// An organization with one event whose tickets are all issued as guest-list tickets.
struct Issued {
    admin: String,
    event_id: String,
    qrs: Vec<String>,
    /// The holder of each ticket in `qrs`, to check that every answer is about its own scan.
    holders: Vec<String>,
}

async fn issue(client: &reqwest::Client, base: &str, tickets: u64) -> anyhow::Result<Issued> {
    let target = setup::organizer(
        client,
        base,
        json!({ "title": { "en": "Benchmark doors" } }),
        json!({ "capacity": tickets, "price": 0 }),
    )
    .await?;
    let per_guest = 20;
    let guests = tickets.div_ceil(per_guest);
    for chunk in (0..guests).collect::<Vec<_>>().chunks(5_000) {
        let mut csv = String::from("name,email,ticket_type,quantity\n");
        for g in chunk {
            let quantity = per_guest.min(tickets - g * per_guest);
            csv.push_str(&format!(
                "Guest {g},guest{g}@example.com,{},{quantity}\n",
                target.ticket_type_id
            ));
        }
        let resp = client
            .post(format!(
                "{base}/admin/events/{}/guest-list/import?send_email=false",
                target.event_id
            ))
            .bearer_auth(&target.admin)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await?;
        let status = resp.status();
        anyhow::ensure!(
            status.is_success(),
            "guest import: {status} {}",
            resp.text().await?
        );
    }
    let mut qrs = Vec::new();
    let mut holders = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!(
            "{base}/admin/events/{}/guest-list?limit=200",
            target.event_id
        );
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page: Value = client
            .get(url)
            .bearer_auth(&target.admin)
            .send()
            .await?
            .json()
            .await?;
        for guest in page["items"].as_array().context("guest list")? {
            for ticket in guest["tickets"].as_array().context("guest tickets")? {
                qrs.push(ticket["qr_payload"].as_str().context("qr")?.to_string());
                holders.push(guest["name"].as_str().context("name")?.to_string());
            }
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    anyhow::ensure!(qrs.len() as u64 == tickets, "{} tickets issued", qrs.len());
    Ok(Issued {
        admin: target.admin,
        event_id: target.event_id,
        qrs,
        holders,
    })
}

/// Makes a check-in list and one paired device per gate; returns the devices' secrets.
async fn devices(
    client: &reqwest::Client,
    base: &str,
    issued: &Issued,
    gates: usize,
) -> anyhow::Result<Vec<String>> {
    let list = post(
        client,
        &format!("{base}/admin/events/{}/checkin-lists", issued.event_id),
        &issued.admin,
        json!({ "name": "Doors" }),
    )
    .await?;
    let mut secrets = Vec::with_capacity(gates);
    for g in 0..gates {
        let enrolled = post(
            client,
            &format!("{base}/admin/devices"),
            &issued.admin,
            json!({ "name": format!("Gate {g}"), "list_ids": [list["id"]] }),
        )
        .await?;
        let paired: Value = client
            .post(format!("{base}/gate/pair"))
            .json(&json!({ "pairing_code": enrolled["pairing_code"] }))
            .send()
            .await?
            .json()
            .await?;
        secrets.push(paired["secret"].as_str().context("pairing")?.to_string());
    }
    Ok(secrets)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fresh,
    Duplicate,
    Forged,
    Foreign,
}

/// What one planned scan is.
struct Planned {
    kind: Kind,
    /// Index into the tickets for fresh and duplicate scans.
    ticket: usize,
    gate: usize,
    code: String,
}

fn plan(args: &Args, qrs: &[String], foreign: &[String]) -> Vec<Planned> {
    let total = (args.rate * args.duration) as usize;
    let mut rng = rand::rng();
    let mut next_fresh = 0;
    let mut gate_of: Vec<usize> = vec![0; qrs.len()];
    let mut out = Vec::with_capacity(total);
    for _ in 0..total {
        let roll: f64 = rng.random();
        let (d, f, x) = (args.duplicate_share, args.forged_share, args.foreign_share);
        let kind = if roll < f {
            Kind::Forged
        } else if roll < f + x {
            Kind::Foreign
        } else if roll < f + x + d || next_fresh == qrs.len() {
            Kind::Duplicate
        } else {
            Kind::Fresh
        };
        let planned = match kind {
            Kind::Fresh => {
                let gate = rng.random_range(0..args.gates);
                gate_of[next_fresh] = gate;
                next_fresh += 1;
                Planned {
                    kind,
                    ticket: next_fresh - 1,
                    gate,
                    code: qrs[next_fresh - 1].clone(),
                }
            }
            Kind::Duplicate if next_fresh > 0 => {
                let ticket = rng.random_range(0..next_fresh);
                Planned {
                    kind,
                    ticket,
                    gate: (gate_of[ticket] + 1) % args.gates,
                    code: qrs[ticket].clone(),
                }
            }
            Kind::Duplicate | Kind::Forged => {
                // A genuine payload under another ticket's signature.
                let (a, b) = (
                    rng.random_range(0..qrs.len()),
                    rng.random_range(0..qrs.len()),
                );
                let b = if a == b { (b + 1) % qrs.len() } else { b };
                let payload = qrs[a].rsplit_once('.').map(|(p, _)| p).unwrap_or_default();
                let signature = qrs[b].rsplit_once('.').map(|(_, s)| s).unwrap_or_default();
                Planned {
                    kind: Kind::Forged,
                    ticket: usize::MAX,
                    gate: rng.random_range(0..args.gates),
                    code: format!("{payload}.{signature}"),
                }
            }
            Kind::Foreign => Planned {
                kind,
                ticket: usize::MAX,
                gate: rng.random_range(0..args.gates),
                code: foreign[rng.random_range(0..foreign.len())].clone(),
            },
        };
        out.push(planned);
    }
    out
}

/// Per ticket: scans answered `valid`, answered `already_used`, and lost (no answer).
type Counts = (u32, u32, u32);

#[derive(Default)]
struct Tally {
    answered: AtomicU64,
    errors: AtomicU64,
    wrong: AtomicU64,
    last_response_us: AtomicU64,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.setup,
        "the gate benchmark needs --setup (it must know every ticket it scans)"
    );
    anyhow::ensure!(args.gates >= 2, "--gates must be at least 2");
    anyhow::ensure!(args.tickets >= 2, "--tickets must be at least 2");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .timeout(Duration::from_secs(30))
        .build()?;
    let setup_started = Instant::now();
    let issued = issue(&client, &args.url, args.tickets).await?;
    let foreign = issue(&client, &args.url, 100).await?;
    let secrets = devices(&client, &args.url, &issued, args.gates).await?;
    let setup_s = setup_started.elapsed().as_secs_f64();
    let planned = plan(&args, &issued.qrs, &foreign.qrs);
    let total = planned.len();
    eprintln!(
        "gate: {total} scans at {}/s for {} s over {} gates; {} tickets (setup {setup_s:.1} s)",
        args.rate, args.duration, args.gates, args.tickets
    );

    let tally = Arc::new(Tally::default());
    let latencies = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1,
        120_000_000,
        3,
    )?));
    let answers: Arc<Mutex<HashMap<usize, Counts>>> = Arc::default();
    let holders = Arc::new(issued.holders.clone());
    let secrets = Arc::new(secrets);
    let url = format!("{}/gate/scans", args.url);
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(args.connections.max(1)));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, scan) in planned.into_iter().enumerate() {
        let intended = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(intended.into()).await;
        let (client, url, secrets, tally, latencies, answers, in_flight, holders) = (
            client.clone(),
            url.clone(),
            secrets.clone(),
            tally.clone(),
            latencies.clone(),
            answers.clone(),
            in_flight.clone(),
            holders.clone(),
        );
        tasks.spawn(async move {
            let _permit = in_flight.acquire_owned().await;
            let resp = client
                .post(&url)
                .bearer_auth(&secrets[scan.gate])
                .json(&json!({ "nonce": format!("scan-{i}"), "code": scan.code, "gate": format!("gate-{}", scan.gate) }))
                .send()
                .await;
            let body: Option<Value> = match resp {
                Ok(r) if r.status().is_success() => r.json().await.ok(),
                _ => None,
            };
            latencies
                .lock()
                .await
                .saturating_record(intended.elapsed().as_micros() as u64);
            tally
                .last_response_us
                .fetch_max(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            let Some(body) = body else {
                tally.errors.fetch_add(1, Ordering::Relaxed);
                if scan.ticket != usize::MAX {
                    answers.lock().await.entry(scan.ticket).or_default().2 += 1;
                }
                return;
            };
            tally.answered.fetch_add(1, Ordering::Relaxed);
            let result = body["result"].as_str().unwrap_or_default();
            match scan.kind {
                Kind::Forged | Kind::Foreign => {
                    if result != "unknown" {
                        tally.wrong.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Kind::Fresh | Kind::Duplicate => {
                    // The answer must be about this scan's ticket, not a neighbour's.
                    if body["ticket"]["holder_name"].as_str() != Some(holders[scan.ticket].as_str()) {
                        tally.wrong.fetch_add(1, Ordering::Relaxed);
                    }
                    let mut answers = answers.lock().await;
                    let entry = answers.entry(scan.ticket).or_default();
                    match result {
                        "valid" => entry.0 += 1,
                        "already_used" => entry.1 += 1,
                        _ => {
                            tally.wrong.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}

    let answers = answers.lock().await;
    let double_admits = answers.values().filter(|(valid, _, _)| *valid > 1).count();
    // A ticket turned away as used but never admitted is a wrong answer too (unless one of
    // its scans went unanswered: that one may have been the admission).
    let never_admitted = answers
        .values()
        .filter(|(valid, used, lost)| *valid == 0 && *used > 0 && *lost == 0)
        .count() as u64;
    let wrong = tally.wrong.load(Ordering::Relaxed) + never_admitted;
    let audit: Value = client
        .get(format!("{}/admin/inventory/audit", args.url))
        .bearer_auth(&issued.admin)
        .send()
        .await?
        .json()
        .await?;
    let hist = latencies.lock().await;
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    let span_s = tally.last_response_us.load(Ordering::Relaxed) as f64 / 1e6;
    let answered = tally.answered.load(Ordering::Relaxed);
    let summary = json!({
        "offered_rate": args.rate,
        "scans_per_s": (answered as f64 / span_s.max(1e-9) * 10.0).round() / 10.0,
        "p50_ms": ms(0.5),
        "p99_ms": ms(0.99),
        "p999_ms": ms(0.999),
        "max_ms": hist.max() as f64 / 1000.0,
        "double_admits": double_admits,
        "wrong_answers": wrong,
        "errors": tally.errors.load(Ordering::Relaxed),
        "scans": total,
        "tickets_scanned": answers.len(),
        "gates": args.gates,
        "tickets": args.tickets,
        "setup_s": (setup_s * 10.0).round() / 10.0,
        "database": audit["database"],
        "duration_s": args.duration,
    });
    eprintln!(
        "scanned {answered} of {total} ({:.0}/s); p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
         double admits {double_admits}, wrong answers {wrong}, errors {}",
        summary["scans_per_s"].as_f64().unwrap_or(0.0),
        ms(0.5),
        ms(0.99),
        hist.max() as f64 / 1000.0,
        summary["errors"],
    );
    println!("{summary}");
    Ok(())
}
