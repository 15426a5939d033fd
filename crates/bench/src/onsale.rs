use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::setup::Target;
use hdrhistogram::Histogram;
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::Mutex;

#[derive(clap::Args, Clone)]
pub struct Args {
    /// Base URL of the server, e.g. http://127.0.0.1:8787
    #[arg(long)]
    url: String,
    /// Create an organization, event and ticket type first (through the public API).
    #[arg(long)]
    setup: bool,
    /// Capacity of the ticket type created by --setup.
    #[arg(long, default_value_t = 10_000)]
    capacity: i64,
    /// Simulated buyers (reported with the results). Every attempt opens a new cart, as a
    /// buyer does after finishing a checkout, so the population size does not cap sales.
    #[arg(long, default_value_t = 1_000)]
    buyers: u64,
    /// Arrival rate, requests per second.
    #[arg(long, default_value_t = 1_000)]
    rate: u64,
    /// Seconds to keep sending.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Each request asks for 1..=K tickets (and the event allows K per order).
    #[arg(long, default_value_t = 1)]
    max_per_order: i64,
    /// Share of successful holds the buyer abandons at once (removes from the cart).
    #[arg(long, default_value_t = 0.0)]
    abandon_share: f64,
    /// Reserve through the server's naive path (needs --enable-baseline-reservations).
    #[arg(long)]
    baseline: bool,
    /// Without --setup: the operator token or API key to audit with.
    #[arg(long)]
    admin_token: Option<String>,
    /// Without --setup: the storefront key.
    #[arg(long)]
    storefront_key: Option<String>,
    /// Without --setup: the event and ticket type to reserve.
    #[arg(long)]
    event_id: Option<String>,
    #[arg(long)]
    ticket_type_id: Option<String>,
    /// Most requests in flight at once (a buyer population's connections); requests beyond
    /// wait for a free one, and that wait counts in their latency.
    #[arg(long, default_value_t = 512)]
    connections: usize,
}

async fn setup(client: &reqwest::Client, args: &Args) -> anyhow::Result<Target> {
    crate::setup::organizer(
        client,
        &args.url,
        json!({ "title": { "en": "Benchmark on-sale" }, "max_per_order": args.max_per_order }),
        json!({ "capacity": args.capacity, "max_per_order": args.max_per_order }),
    )
    .await
}

#[derive(Default)]
struct Tally {
    /// Requests answered with a decision: held, or sold out.
    responses: AtomicU64,
    ok: AtomicU64,
    units: AtomicU64,
    released_units: AtomicU64,
    sold_out: AtomicU64,
    errors: AtomicU64,
    first_sold_out_us: AtomicU64,
    last_response_us: AtomicU64,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .timeout(Duration::from_secs(30))
        .build()?;
    let target = if args.setup {
        setup(&client, &args).await?
    } else {
        Target {
            admin: args
                .admin_token
                .clone()
                .context("--admin-token (or --setup)")?,
            storefront: args
                .storefront_key
                .clone()
                .context("--storefront-key (or --setup)")?,
            event_id: args.event_id.clone().context("--event-id (or --setup)")?,
            ticket_type_id: args
                .ticket_type_id
                .clone()
                .context("--ticket-type-id (or --setup)")?,
        }
    };
    let target = Arc::new(target);
    let tally = Arc::new(Tally {
        first_sold_out_us: AtomicU64::new(u64::MAX),
        ..Default::default()
    });
    let latencies = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1,
        120_000_000,
        3,
    )?));
    let total = args.rate * args.duration;
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let url = format!("{}/consumer/cart/items", args.url);
    let path = if args.baseline { "baseline" } else { "batched" };
    eprintln!(
        "on-sale: {total} requests at {}/s for {} s, {} buyers, capacity {}, path {path}",
        args.rate, args.duration, args.buyers, args.capacity
    );
    let in_flight = Arc::new(tokio::sync::Semaphore::new(args.connections.max(1)));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let intended = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(intended.into()).await;
        let quantity = rand::rng().random_range(1..=args.max_per_order.max(1));
        let abandon =
            args.abandon_share > 0.0 && rand::rng().random_bool(args.abandon_share.min(1.0));
        let (client, target, tally, latencies, url) = (
            client.clone(),
            target.clone(),
            tally.clone(),
            latencies.clone(),
            url.clone(),
        );
        let in_flight = in_flight.clone();
        tasks.spawn(async move {
            let _permit = in_flight.acquire_owned().await;
            let resp = client
                .post(&url)
                .bearer_auth(&target.storefront)
                .header("x-reservation-path", path)
                .json(&json!({ "event_id": target.event_id, "ticket_type_id": target.ticket_type_id, "quantity": quantity }))
                .send()
                .await;
            let elapsed = intended.elapsed();
            let done_us = started.elapsed().as_micros() as u64;
            tally.last_response_us.fetch_max(done_us, Ordering::Relaxed);
            latencies.lock().await.saturating_record(elapsed.as_micros() as u64);
            let resp = match resp {
                Ok(resp) => resp,
                Err(_) => {
                    tally.errors.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            };
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            match (status, body["code"].as_str()) {
                (201, _) => {
                    tally.responses.fetch_add(1, Ordering::Relaxed);
                    tally.ok.fetch_add(1, Ordering::Relaxed);
                    tally.units.fetch_add(quantity as u64, Ordering::Relaxed);
                    if abandon {
                        let item = body["items"][0]["id"].as_str().unwrap_or_default();
                        let token = body["cart_token"].as_str().unwrap_or_default();
                        let released = client
                            .delete(format!("{}/{item}", url))
                            .bearer_auth(&target.storefront)
                            .header("x-cart-token", token)
                            .send()
                            .await
                            .map(|r| r.status().as_u16() == 204)
                            .unwrap_or(false);
                        if released {
                            tally.released_units.fetch_add(quantity as u64, Ordering::Relaxed);
                        }
                    }
                }
                (409, Some("sold_out" | "not_enough_left")) => {
                    tally.responses.fetch_add(1, Ordering::Relaxed);
                    tally.sold_out.fetch_add(1, Ordering::Relaxed);
                    tally.first_sold_out_us.fetch_min(done_us, Ordering::Relaxed);
                }
                _ => {
                    tally.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        // Reap finished tasks as we go so memory stays flat on long runs.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}

    let audit: Value = client
        .get(format!("{}/admin/inventory/audit", args.url))
        .bearer_auth(&target.admin)
        .send()
        .await?
        .json()
        .await?;
    let held_units =
        tally.units.load(Ordering::Relaxed) - tally.released_units.load(Ordering::Relaxed);
    let client_oversold = i64::from(args.setup && held_units as i64 > args.capacity);
    let oversold = audit["oversold"].as_i64().context("audit answer")? + client_oversold;
    let hist = latencies.lock().await;
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    let span_s = tally.last_response_us.load(Ordering::Relaxed) as f64 / 1e6;
    let responses = tally.responses.load(Ordering::Relaxed);
    let first_sold_out = tally.first_sold_out_us.load(Ordering::Relaxed);
    let summary = json!({
        "offered_rate": args.rate,
        "responses_per_s": (responses as f64 / span_s.max(1e-9) * 10.0).round() / 10.0,
        "holds_ok": tally.ok.load(Ordering::Relaxed),
        "units_held": held_units,
        "sold_out": tally.sold_out.load(Ordering::Relaxed),
        "errors": tally.errors.load(Ordering::Relaxed),
        "p50_ms": ms(0.5),
        "p99_ms": ms(0.99),
        "p999_ms": ms(0.999),
        "max_ms": hist.max() as f64 / 1000.0,
        "time_to_sell_out_s": (first_sold_out != u64::MAX).then(|| first_sold_out as f64 / 1e6),
        "oversold": oversold,
        "duplicate_claims": audit["duplicate_claims"],
        "drift": audit["drift"],
        "database": audit["database"],
        "path": path,
        "capacity": args.capacity,
        "buyers": args.buyers,
        "requests": total,
        "duration_s": args.duration,
    });
    eprintln!(
        "sent {total}, answered {responses} ({:.0}/s); held {} in {} holds; sold out {}; errors {}; \
         latency p50 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms; oversold {oversold}, \
         duplicate claims {}",
        summary["responses_per_s"].as_f64().unwrap_or(0.0),
        held_units,
        summary["holds_ok"],
        summary["sold_out"],
        summary["errors"],
        ms(0.5),
        ms(0.99),
        ms(0.999),
        hist.max() as f64 / 1000.0,
        summary["duplicate_claims"],
    );
    println!("{summary}");
    Ok(())
}
