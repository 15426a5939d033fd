//! Kisum's access gate under load: many users in many companies, some entitled to finance
//! and some not, read `/finance/income` at a fixed rate (open loop). Midway it cancels one
//! company's finance addon (through Core's internal API) and revokes one membership's grant
//! (through Auth, as the company's superadmin); from the moment each answer arrives, every
//! later request of the people affected that is still served counts as a stale allow.
//! Every answer is also checked against what the caller is entitled to (`wrong_answers`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use hdrhistogram::Histogram;
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::Mutex;

#[derive(clap::Args, Clone)]
pub struct Args {
    /// Base URL of the kisum server, e.g. http://127.0.0.1:3099
    #[arg(long)]
    url: String,
    /// Create the companies, users and grants first (through the API). Required: the run
    /// needs to know who is entitled to what.
    #[arg(long)]
    setup: bool,
    /// The server's internal key (to cancel an addon midway).
    #[arg(long, env = "KISUM_INTERNAL_API_KEY")]
    internal_key: String,
    /// Requests per second.
    #[arg(long, default_value_t = 1_000)]
    rate: u64,
    /// Seconds to keep sending.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Companies; three in four have the finance addon.
    #[arg(long, default_value_t = 12)]
    companies: usize,
    /// Members per company besides its superadmin; half are granted finance.
    #[arg(long, default_value_t = 6)]
    members: usize,
    /// Most requests in flight at once.
    #[arg(long, default_value_t = 512)]
    connections: usize,
}

/// What a caller should get, and since when it changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Allowed,
    /// 403 with this code.
    Denied(&'static str),
}

struct Actor {
    token: String,
    company: String,
    user_id: String,
    /// The answer before the midway change.
    before: Expect,
    /// Set when the midway change affects this actor, as the change's request leaves: the
    /// answer after it, and the microsecond (since start) the change's API answer arrived
    /// (`None` while it is in flight: answers in that window may be either).
    after: std::sync::Mutex<Option<(Expect, Option<u64>)>>,
}

struct Company {
    id: String,
    boss: usize,
    entitled: bool,
}

async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> anyhow::Result<Value> {
    let mut req = client.request(method, url).json(&body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(status.is_success(), "{url}: {status} {body}");
    Ok(body)
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> anyhow::Result<Value> {
    send(client, reqwest::Method::POST, url, headers, body).await
}

async fn put(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> anyhow::Result<Value> {
    send(client, reqwest::Method::PUT, url, headers, body).await
}

async fn signup(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    package: &str,
    addons: &[&str],
) -> anyhow::Result<(String, String, String)> {
    let body = post(
        client,
        &format!("{base}/auth/signup"),
        &[],
        json!({ "email": email, "password": "benchmark password", "name": "Bench",
                "companyName": format!("Bench {email}"), "package": package, "addons": addons }),
    )
    .await?;
    let s = |k: &str| body[k].as_str().unwrap_or_default().to_string();
    Ok((s("userId"), s("companyId"), s("accessToken")))
}

async fn setup(
    client: &reqwest::Client,
    args: &Args,
) -> anyhow::Result<(Vec<Actor>, Vec<Company>)> {
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let base = &args.url;
    let mut actors = Vec::new();
    let mut companies = Vec::new();
    for c in 0..args.companies {
        let entitled = c % 4 != 3;
        let addons: &[&str] = if entitled { &["finance"] } else { &[] };
        let (boss_id, company, boss_token) = signup(
            client,
            base,
            &format!("boss{c}-{stamp}@bench.test"),
            "basic_promoter",
            addons,
        )
        .await?;
        let auth = format!("Bearer {boss_token}");
        let tenant = [
            ("authorization", auth.as_str()),
            ("x-org", company.as_str()),
        ];
        if entitled {
            for n in 0..20 {
                post(
                    client,
                    &format!("{base}/finance/income"),
                    &tenant,
                    json!({ "source": "manual", "currency": "IDR", "amount": 100_000 + n,
                            "receivedOn": "2026-11-01", "eventRef": format!("evt-{c}") }),
                )
                .await?;
            }
        }
        let boss = actors.len();
        actors.push(Actor {
            token: boss_token.clone(),
            company: company.clone(),
            user_id: boss_id,
            before: if entitled {
                Expect::Allowed
            } else {
                Expect::Denied("finance_addon_required")
            },
            after: std::sync::Mutex::new(None),
        });
        for m in 0..args.members {
            let email = format!("member{c}-{m}-{stamp}@bench.test");
            let (user_id, _, token) = signup(client, base, &email, "basic_artist", &[]).await?;
            let granted = entitled && m % 2 == 0;
            let (modules, permissions) = if granted {
                (json!(["finance"]), json!(["finance.income.read"]))
            } else {
                (json!([]), json!([]))
            };
            post(
                client,
                &format!("{base}/auth/members"),
                &tenant,
                json!({ "email": email, "role": "USER", "modules": modules, "permissions": permissions }),
            )
            .await?;
            actors.push(Actor {
                token,
                company: company.clone(),
                user_id,
                before: match (entitled, granted) {
                    (false, _) => Expect::Denied("finance_addon_required"),
                    (true, true) => Expect::Allowed,
                    (true, false) => Expect::Denied("module_not_granted"),
                },
                after: std::sync::Mutex::new(None),
            });
        }
        companies.push(Company {
            id: company,
            boss,
            entitled,
        });
    }
    Ok((actors, companies))
}

#[derive(Default)]
struct Tally {
    responses: AtomicU64,
    allowed: AtomicU64,
    denied: AtomicU64,
    stale_allows: AtomicU64,
    wrong_answers: AtomicU64,
    errors: AtomicU64,
    last_response_us: AtomicU64,
}

/// The midway change: the first entitled company loses finance; in the second, one granted
/// member loses the grant. Marks the affected actors as the change leaves (answers may then
/// be either) and again when its answer arrives (from then on, only the new answer is right).
async fn revoke(
    client: &reqwest::Client,
    args: &Args,
    actors: &[Actor],
    companies: &[Company],
    started: Instant,
) -> anyhow::Result<()> {
    let mut entitled = companies.iter().filter(|c| c.entitled);
    let canceled = entitled.next().context("no entitled company")?;
    let narrowed = entitled.next().context("a second entitled company")?;
    let affected: Vec<&Actor> = actors.iter().filter(|a| a.company == canceled.id).collect();
    let denied = Expect::Denied("finance_addon_required");
    for actor in &affected {
        *actor.after.lock().unwrap() = Some((denied, None));
    }
    put(
        client,
        &format!(
            "{}/internal/companies/{}/addons/finance",
            args.url, canceled.id
        ),
        &[("x-internal-api-key", args.internal_key.as_str())],
        json!({ "status": "canceled" }),
    )
    .await?;
    let at = started.elapsed().as_micros() as u64;
    for actor in &affected {
        *actor.after.lock().unwrap() = Some((denied, Some(at)));
    }
    let member = actors
        .iter()
        .find(|a| {
            a.company == narrowed.id
                && a.before == Expect::Allowed
                && a.user_id != actors[narrowed.boss].user_id
        })
        .context("a granted member")?;
    let boss = &actors[narrowed.boss];
    let auth = format!("Bearer {}", boss.token);
    *member.after.lock().unwrap() = Some((Expect::Denied("module_not_granted"), None));
    put(
        client,
        &format!("{}/auth/members/{}/grants", args.url, member.user_id),
        &[
            ("authorization", auth.as_str()),
            ("x-org", narrowed.id.as_str()),
        ],
        json!({ "modules": [], "permissions": [] }),
    )
    .await?;
    let at = started.elapsed().as_micros() as u64;
    *member.after.lock().unwrap() = Some((Expect::Denied("module_not_granted"), Some(at)));
    eprintln!(
        "midway: canceled finance of {}, revoked the grant of {}",
        canceled.id, member.user_id
    );
    Ok(())
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.setup,
        "kisum-access needs --setup: it must know who may read what"
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .timeout(Duration::from_secs(30))
        .build()?;
    let ready: Value = client
        .get(format!("{}/readyz", args.url))
        .send()
        .await?
        .json()
        .await?;
    eprintln!(
        "setting up {} companies with {} members each",
        args.companies, args.members
    );
    let (actors, companies) = setup(&client, &args).await?;
    let actors = Arc::new(actors);
    let companies = Arc::new(companies);
    let tally = Arc::new(Tally::default());
    let latencies = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1,
        120_000_000,
        3,
    )?));
    let total = args.rate * args.duration;
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(args.connections.max(1)));
    eprintln!(
        "kisum-access: {total} requests at {}/s for {} s over {} callers",
        args.rate,
        args.duration,
        actors.len()
    );
    let started = Instant::now();
    let midway = total / 2;
    let mut tasks = tokio::task::JoinSet::new();
    let mut revocation = None;
    for i in 0..total {
        let intended = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(intended.into()).await;
        if i == midway {
            let (client, args, actors, companies) = (
                client.clone(),
                args.clone(),
                actors.clone(),
                companies.clone(),
            );
            revocation = Some(tokio::spawn(async move {
                revoke(&client, &args, &actors, &companies, started).await
            }));
        }
        let pick = rand::rng().random_range(0..actors.len());
        let (client, actors, tally, latencies, url) = (
            client.clone(),
            actors.clone(),
            tally.clone(),
            latencies.clone(),
            format!("{}/finance/income?limit=20", args.url),
        );
        let in_flight = in_flight.clone();
        tasks.spawn(async move {
            let _permit = in_flight.acquire_owned().await;
            let actor = &actors[pick];
            let sent_us = started.elapsed().as_micros() as u64;
            let resp = client
                .get(&url)
                .bearer_auth(&actor.token)
                .header("x-org", &actor.company)
                .send()
                .await;
            let elapsed = intended.elapsed();
            tally
                .last_response_us
                .fetch_max(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            latencies
                .lock()
                .await
                .saturating_record(elapsed.as_micros() as u64);
            let Ok(resp) = resp else {
                tally.errors.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            tally.responses.fetch_add(1, Ordering::Relaxed);
            // The expectation when the request left: a change counts once its answer had
            // arrived before this request was sent. A request that overlapped the change
            // (the change was in flight, or answered after this request left) may get
            // either the answer before it or the answer after it, nothing else.
            let after = *actor.after.lock().unwrap();
            let (acceptable, changed_before_send) = match after {
                Some((e, Some(at))) if at <= sent_us => (vec![e], true),
                Some((e, _)) => (vec![actor.before, e], false),
                None => (vec![actor.before], false),
            };
            let got = match (status, body["code"].as_str()) {
                (200, _) => Some(Expect::Allowed),
                (403, Some("finance_addon_required")) => {
                    Some(Expect::Denied("finance_addon_required"))
                }
                (403, Some("module_not_granted")) => Some(Expect::Denied("module_not_granted")),
                (403, _) => Some(Expect::Denied("other")),
                _ => None,
            };
            match got {
                Some(Expect::Allowed) => {
                    tally.allowed.fetch_add(1, Ordering::Relaxed);
                    if changed_before_send {
                        tally.stale_allows.fetch_add(1, Ordering::Relaxed);
                    } else if !acceptable.contains(&Expect::Allowed)
                        // An allowed read of a company with income must list it.
                        || body["items"].as_array().is_none_or(|i| i.is_empty())
                    {
                        tally.wrong_answers.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(denied) => {
                    tally.denied.fetch_add(1, Ordering::Relaxed);
                    if !acceptable.contains(&denied) {
                        tally.wrong_answers.fetch_add(1, Ordering::Relaxed);
                    }
                }
                None => {
                    tally.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    if let Some(revocation) = revocation {
        revocation.await??;
    }
    let hist = latencies.lock().await;
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    let span_s = tally.last_response_us.load(Ordering::Relaxed) as f64 / 1e6;
    let responses = tally.responses.load(Ordering::Relaxed);
    let summary = json!({
        "offered_rate": args.rate,
        "responses_per_s": (responses as f64 / span_s.max(1e-9) * 10.0).round() / 10.0,
        "allowed": tally.allowed.load(Ordering::Relaxed),
        "denied": tally.denied.load(Ordering::Relaxed),
        "stale_allows": tally.stale_allows.load(Ordering::Relaxed),
        "wrong_answers": tally.wrong_answers.load(Ordering::Relaxed),
        "errors": tally.errors.load(Ordering::Relaxed),
        "p50_ms": ms(0.5),
        "p99_ms": ms(0.99),
        "p999_ms": ms(0.999),
        "max_ms": hist.max() as f64 / 1000.0,
        "callers": actors.len(),
        "companies": companies.len(),
        "requests": total,
        "duration_s": args.duration,
        "database": ready["database"],
    });
    eprintln!(
        "sent {total}, answered {responses} ({:.0}/s): {} allowed, {} denied; stale allows {}, wrong answers {}, errors {}; \
         latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        summary["responses_per_s"].as_f64().unwrap_or(0.0),
        summary["allowed"],
        summary["denied"],
        summary["stale_allows"],
        summary["wrong_answers"],
        summary["errors"],
        ms(0.5),
        ms(0.99),
        hist.max() as f64 / 1000.0,
    );
    println!("{summary}");
    Ok(())
}
