//! `checkout`: buyers going from reservation to ticket at a fixed arrival rate — reserve,
//! check out, pay on the simulated provider's page (10 % of callbacks delivered twice, 2 %
//! paid after the hold expired), wait for the ticket — then an audit of every order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::setup::Target;

#[derive(clap::Args, Clone)]
pub struct Args {
    /// Base URL of the server, e.g. http://127.0.0.1:8787
    #[arg(long)]
    url: String,
    /// Create the organization, event and ticket type first (required: the run needs its
    /// own event with one-minute holds).
    #[arg(long)]
    setup: bool,
    /// Arrivals per second.
    #[arg(long, default_value_t = 50)]
    rate: u64,
    /// Seconds to keep arriving (late payers finish a minute or so later).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Share of payments whose callback the provider delivers twice.
    #[arg(long, default_value_t = 0.10)]
    duplicate_share: f64,
    /// Share of buyers who pay after their hold expired.
    #[arg(long, default_value_t = 0.02)]
    late_share: f64,
    /// Most buyers in flight at once.
    #[arg(long, default_value_t = 256)]
    connections: usize,
}

async fn setup(client: &reqwest::Client, base: &str) -> anyhow::Result<Target> {
    crate::setup::organizer(
        client,
        base,
        json!({ "title": { "en": "Checkout benchmark" }, "hold_minutes": 1 }),
        json!({ "price": 150000, "capacity": 1_000_000 }),
    )
    .await
}

/// One buyer, from reservation to ticket. Returns whether the order ended paid.
async fn buyer(
    client: &reqwest::Client,
    base: &str,
    t: &Target,
    n: u64,
    late: bool,
    deliveries: u8,
) -> anyhow::Result<bool> {
    let sf = &t.storefront;
    let added: Value = client
        .post(format!("{base}/consumer/cart/items"))
        .bearer_auth(sf)
        .json(&json!({ "event_id": t.event_id, "ticket_type_id": t.ticket_type_id, "quantity": 1 }))
        .send()
        .await?
        .json()
        .await?;
    let cart = added["cart_token"]
        .as_str()
        .context("no cart token")?
        .to_string();
    let checkout: Value = client
        .post(format!("{base}/consumer/checkout"))
        .bearer_auth(sf)
        .header("x-cart-token", &cart)
        .header("idempotency-key", format!("bench-checkout-{n}"))
        .json(&json!({ "email": format!("buyer{n}@example.com"), "name": format!("Buyer {n}") }))
        .send()
        .await?
        .json()
        .await?;
    let pay = checkout["payment_url"]
        .as_str()
        .context("no payment url")?
        .to_string();
    if late {
        // One-minute holds: pay after they lapsed and the order expired.
        tokio::time::sleep(Duration::from_secs(65)).await;
    }
    client
        .post(&pay)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("outcome=paid&deliveries={deliveries}"))
        .send()
        .await?;
    for _ in 0..200 {
        let order: Value = client
            .get(format!("{base}/consumer/cart/order"))
            .bearer_auth(sf)
            .header("x-cart-token", &cart)
            .send()
            .await?
            .json()
            .await?;
        match order["status"].as_str() {
            Some("paid") => return Ok(true),
            Some("refunded") => return Ok(false),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    anyhow::bail!("order never settled")
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.setup,
        "checkout needs --setup (its own event with one-minute holds)"
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()?;
    let base = args.url.trim_end_matches('/').to_string();
    let target = Arc::new(setup(&client, &base).await?);
    let latencies = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1,
        600_000_000,
        3,
    )?));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(args.connections.max(1)));
    let total = args.rate * args.duration;
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    eprintln!("checkout: {total} buyers at {}/s", args.rate);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..total {
        let intended = started + interval.mul_f64(n as f64);
        tokio::time::sleep_until(intended.into()).await;
        let late = rand::rng().random_bool(args.late_share.clamp(0.0, 1.0));
        let deliveries = if rand::rng().random_bool(args.duplicate_share.clamp(0.0, 1.0)) {
            2
        } else {
            1
        };
        let (client, base, target, latencies, errors, in_flight) = (
            client.clone(),
            base.clone(),
            target.clone(),
            latencies.clone(),
            errors.clone(),
            in_flight.clone(),
        );
        tasks.spawn(async move {
            let _permit = in_flight.acquire_owned().await;
            match buyer(&client, &base, &target, n, late, deliveries).await {
                // Late buyers' time includes the minute they waited on purpose; count the rest.
                Ok(true) if !late => latencies
                    .lock()
                    .await
                    .saturating_record(intended.elapsed().as_micros() as u64),
                Ok(_) => {}
                Err(err) => {
                    eprintln!("buyer {n}: {err}");
                    errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}

    // Audit every order of the run through the operator API.
    let (mut orders_paid, mut tickets_issued, mut duplicate_tickets, mut double_charged) =
        (0u64, 0u64, 0u64, 0u64);
    let mut sample_ticket_code = None;
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/admin/orders?limit=200&event_id={}", target.event_id);
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = client
            .get(&url)
            .bearer_auth(&target.admin)
            .send()
            .await?
            .json()
            .await?;
        for order in page["items"].as_array().context("orders page")? {
            let bought: i64 = order["lines"]
                .as_array()
                .map(|l| l.iter().map(|x| x["quantity"].as_i64().unwrap_or(0)).sum())
                .unwrap_or(0);
            let tickets = order["tickets"].as_array().map(Vec::len).unwrap_or(0) as i64;
            let paid = order["payments"]
                .as_array()
                .map(|p| p.iter().filter(|x| x["status"] == "paid").count())
                .unwrap_or(0);
            if order["status"] == "paid" {
                orders_paid += 1;
                if sample_ticket_code.is_none() {
                    sample_ticket_code = order["tickets"][0]["code"].as_str().map(str::to_string);
                }
            }
            tickets_issued += tickets as u64;
            duplicate_tickets += (tickets - bought).max(0) as u64;
            double_charged += u64::from(paid > 1);
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let hist = latencies.lock().await;
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    let summary = json!({
        "buyers": total,
        "offered_rate": args.rate,
        "orders_paid": orders_paid,
        "tickets_issued": tickets_issued,
        "duplicate_tickets": duplicate_tickets,
        "double_charged": double_charged,
        "errors": errors.load(std::sync::atomic::Ordering::Relaxed),
        "p50_ms": ms(0.5),
        "p99_ms": ms(0.99),
        "max_ms": hist.max() as f64 / 1000.0,
        "sample_ticket_code": sample_ticket_code,
    });
    eprintln!(
        "{orders_paid} orders paid, {tickets_issued} tickets, duplicate tickets {duplicate_tickets}, double charged {double_charged}; \
         reserve→ticket p50 {:.1} ms, p99 {:.1} ms",
        ms(0.5),
        ms(0.99)
    );
    println!("{summary}");
    Ok(())
}
