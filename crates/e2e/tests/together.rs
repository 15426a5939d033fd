//! The two real binaries, `nextkt` and `kisum`, each its own process on its own fresh
//! database (both on SQLite, then both on PostgreSQL), configured only through their
//! environment as an operator would: a venue and an artist in Kisum's directory, a promoter
//! linking its ticketing and publishing an event there, a buyer buying it on Nextkt, Kisum
//! showing the sale; a venue rename reaching Nextkt; Kisum stopped and Nextkt still
//! selling; Kisum restarted, keys rotated and unlinked; and one company never reaching
//! another's data.
//!
//! The binaries are the ones cargo built beside this test (`cargo nextest run --workspace`
//! builds them, since their own packages have integration tests).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use service::testkit::{Backend, TestDatabase, fresh_database};

const SECRETS_KEY: &str = "5e1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c";
const KISUM_KEY: &str = "kisum-internal-key-for-the-e2e-walk";
const NEXTKT_KEY: &str = "nextkt-internal-key-for-the-e2e-walk";
const PASSWORD: &str = "a long enough password";

fn binary(name: &str) -> PathBuf {
    // target/<profile>/deps/<this test> → target/<profile>/<name>
    let exe = std::env::current_exe().expect("test path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace's binaries first (cargo build --workspace --bins)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running server process, killed when dropped; its output is kept in `log`.
struct Server {
    child: Option<Child>,
    base: String,
    log: PathBuf,
}

impl Server {
    async fn start(bin: &str, port: u16, env: &[(&str, String)], log: PathBuf) -> Server {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let child = Command::new(binary(bin))
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("server starts");
        let server = Server {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(resp) = client.get(format!("{}/readyz", self.base)).send().await
                && resp.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{} never became ready:\n{}", self.base, self.output());
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the process at once (SIGKILL: nothing is flushed on the way out).
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

struct World {
    // Servers go first, their databases after them.
    nextkt: Server,
    kisum: Server,
    kisum_env: Vec<(&'static str, String)>,
    kisum_port: u16,
    kisum_db: String,
    logs: tempfile::TempDir,
    client: reqwest::Client,
    _databases: (TestDatabase, TestDatabase),
}

async fn start(backend: Backend) -> World {
    service::http::install_crypto_provider();
    let logs = tempfile::tempdir().expect("log dir");
    let (nextkt_db, nextkt_guard) =
        fresh_database(backend, "nextkt", "NEXTKT_TEST_DATABASE_URL").await;
    let (kisum_db, kisum_guard) =
        fresh_database(backend, "kisum", "NEXTKT_TEST_DATABASE_URL").await;
    let (nextkt_port, kisum_port) = (free_port(), free_port());

    // Kisum's partner key in Nextkt, as an operator makes it.
    let made = Command::new(binary("nextkt"))
        .args(["partner", "create", "Kisum"])
        .env("NEXTKT_DATABASE_URL", &nextkt_db)
        .output()
        .expect("nextkt partner create");
    assert!(made.status.success(), "{made:?}");
    let partner_key = String::from_utf8_lossy(&made.stdout)
        .lines()
        .last()
        .expect("the key line")
        .trim()
        .to_string();

    let nextkt_env = vec![
        ("NEXTKT_DATABASE_URL", nextkt_db),
        ("NEXTKT_LISTEN", format!("127.0.0.1:{nextkt_port}")),
        ("NEXTKT_DB_MAX_CONNECTIONS", "5".into()),
        ("NEXTKT_INTERNAL_API_KEY", NEXTKT_KEY.into()),
        ("NEXTKT_KISUM_URL", format!("http://127.0.0.1:{kisum_port}")),
        ("NEXTKT_KISUM_INTERNAL_API_KEY", KISUM_KEY.into()),
        ("NEXTKT_KISUM_REFRESH_SECS", "1".into()),
        ("NEXTKT_AUTH_RATE_PER_IP", "100000".into()),
        (
            "NEXTKT_MAIL_DIR",
            logs.path().join("nextkt-mail").display().to_string(),
        ),
    ];
    let kisum_env = vec![
        ("KISUM_DATABASE_URL", kisum_db.clone()),
        ("KISUM_LISTEN", format!("127.0.0.1:{kisum_port}")),
        ("KISUM_DB_MAX_CONNECTIONS", "5".into()),
        ("KISUM_INTERNAL_API_KEY", KISUM_KEY.into()),
        (
            "KISUM_NEXTKT_URL",
            format!("http://127.0.0.1:{nextkt_port}"),
        ),
        ("KISUM_NEXTKT_PARTNER_KEY", partner_key),
        ("KISUM_NEXTKT_INTERNAL_API_KEY", NEXTKT_KEY.into()),
        ("KISUM_SECRETS_KEY", SECRETS_KEY.into()),
        ("KISUM_AUTH_RATE_PER_IP", "100000".into()),
        (
            "KISUM_MAIL_DIR",
            logs.path().join("kisum-mail").display().to_string(),
        ),
    ];
    let kisum = Server::start(
        "kisum",
        kisum_port,
        &kisum_env,
        logs.path().join("kisum.log"),
    )
    .await;
    let nextkt = Server::start(
        "nextkt",
        nextkt_port,
        &nextkt_env,
        logs.path().join("nextkt.log"),
    )
    .await;
    World {
        nextkt,
        kisum,
        kisum_env,
        kisum_port,
        kisum_db,
        logs,
        client: reqwest::Client::new(),
        _databases: (nextkt_guard, kisum_guard),
    }
}

/// A Kisum member acting for their company.
struct Member {
    token: String,
    company: String,
}

impl World {
    async fn call(
        &self,
        method: Method,
        url: String,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, Value) {
        e2e::call(&self.client, method, url, headers, body).await
    }

    async fn signup(&self, email: &str, company: &str, package: &str) -> Member {
        let (status, body) = self
            .call(
                Method::POST,
                format!("{}/auth/signup", self.kisum.base),
                &[],
                Some(
                    json!({ "email": email, "password": PASSWORD, "name": "Someone",
                             "companyName": company, "package": package }),
                ),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        Member {
            token: body["accessToken"].as_str().unwrap().to_string(),
            company: body["companyId"].as_str().unwrap().to_string(),
        }
    }

    async fn kisum(
        &self,
        who: &Member,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let auth = format!("Bearer {}", who.token);
        self.call(
            method,
            format!("{}{path}", self.kisum.base),
            &[
                ("authorization", auth.as_str()),
                ("x-org", who.company.as_str()),
            ],
            body,
        )
        .await
    }

    async fn nextkt(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let auth = format!("Bearer {key}");
        self.call(
            method,
            format!("{}{path}", self.nextkt.base),
            &[("authorization", auth.as_str())],
            body,
        )
        .await
    }

    async fn publish(&self, who: &Member, event_path: &str) -> (u16, Value) {
        self.kisum(who, Method::POST, &format!("{event_path}/publish"), None)
            .await
    }

    async fn change(&self, who: &Member, event_path: &str, body: Option<Value>) -> (u16, Value) {
        self.kisum(who, Method::PATCH, event_path, body).await
    }

    /// Nextkt's network view of one event, as Kisum reads it for `company`.
    async fn network(&self, company: &str, path: &str) -> (u16, Value) {
        self.call(
            Method::GET,
            format!("{}{path}", self.nextkt.base),
            &[("x-internal-api-key", NEXTKT_KEY), ("x-org", company)],
            None,
        )
        .await
    }

    /// One ticket bought through Nextkt's consumer API and paid on the simulated provider.
    async fn buy(&self, storefront: &str, event: &str, ticket_type: &str, n: u32) {
        let (status, added) = self
            .nextkt(
                storefront,
                Method::POST,
                "/consumer/cart/items",
                Some(json!({ "event_id": event, "ticket_type_id": ticket_type, "quantity": n })),
            )
            .await;
        assert_eq!(status, 201, "{added}");
        let cart = added["cart_token"].as_str().unwrap().to_string();
        let auth = format!("Bearer {storefront}");
        let (status, checkout) = self
            .call(
                Method::POST,
                format!("{}/consumer/checkout", self.nextkt.base),
                &[
                    ("authorization", auth.as_str()),
                    ("x-cart-token", cart.as_str()),
                ],
                Some(json!({ "email": "buyer@example.com", "name": "A Buyer" })),
            )
            .await;
        assert!(status == 200 || status == 201, "{checkout}");
        let pay = checkout["payment_url"].as_str().unwrap().to_string();
        let resp = self
            .client
            .post(&pay)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("outcome=paid")
            .send()
            .await
            .expect("paid");
        assert!(resp.status().is_success() || resp.status().is_redirection());
        let order = eventually("the order is paid", || async {
            let (_, order) = self
                .call(
                    Method::GET,
                    format!("{}/consumer/cart/order", self.nextkt.base),
                    &[
                        ("authorization", auth.as_str()),
                        ("x-cart-token", cart.as_str()),
                    ],
                    None,
                )
                .await;
            (order["status"] == "paid").then_some(order)
        })
        .await;
        assert_eq!(order["status"], "paid");
    }

    fn logs(&self) -> String {
        format!(
            "--- kisum ---\n{}\n--- nextkt ---\n{}",
            self.kisum.output(),
            self.nextkt.output()
        )
    }

    /// The organization key Kisum keeps sealed, opened with its secrets key (as the test
    /// may: it is the operator here).
    async fn sealed_key(&self, company: &str) -> Option<String> {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&self.kisum_db)
            .await
            .expect("kisum db");
        let sealed: Option<Option<String>> =
            sqlx::query_scalar("SELECT api_key_sealed FROM ticketing_links WHERE company_id = $1")
                .bind(company)
                .fetch_optional(&mut conn)
                .await
                .expect("read link");
        let sealer = kisum::ticketing::sealing::Sealer::from_hex(SECRETS_KEY).unwrap();
        sealed
            .flatten()
            .map(|s| sealer.open(&s, company).expect("opens"))
    }
}

/// Polls `probe` for up to 60 s.
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within 60 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn the_whole_walk(backend: Backend) {
    let mut w = start(backend).await;

    // The directory: a venue company's venue, an artist company's profile.
    let venue_co = w
        .signup("ops@hall.test", "Jakarta Hall", "basic_venue")
        .await;
    let (status, venue) = w
        .kisum(
            &venue_co,
            Method::POST,
            "/venue/venues",
            Some(json!({ "name": "Istora Senayan", "address": "Jl. Pintu Satu", "city": "Jakarta",
                         "country": "ID", "timezone": "Asia/Jakarta", "capacity": 7000,
                         "spaces": [{ "name": "Main hall", "capacity": 7000, "layouts": ["standing"] }] })),
        )
        .await;
    assert_eq!(status, 201, "{venue}");
    let venue_id = venue["id"].as_str().unwrap().to_string();
    let artist_co = w
        .signup("mgmt@band.test", "Band Mgmt", "basic_artist")
        .await;
    let (status, artist) = w
        .kisum(
            &artist_co,
            Method::POST,
            "/artist/profiles",
            Some(json!({ "name": "Hindia", "country": "ID", "genres": ["pop"] })),
        )
        .await;
    assert_eq!(status, 201, "{artist}");
    let artist_id = artist["id"].as_str().unwrap().to_string();

    // A promoter links its ticketing and plans an event there.
    let promoter = w
        .signup("boss@java.test", "Java Promotions", "basic_promoter")
        .await;
    let (status, link) = w
        .kisum(&promoter, Method::POST, "/ticketing/link", None)
        .await;
    assert_eq!(status, 200, "{link}\n{}", w.logs());
    let (status, planned) = w
        .kisum(
            &promoter,
            Method::POST,
            "/promoter/events",
            Some(json!({
                "title": "Hindia Live", "startsAt": "2031-03-01T13:00:00Z", "endsAt": "2031-03-01T16:00:00Z",
                "venueId": venue_id, "artistIds": [artist_id],
                "tiers": [{ "name": "Festival", "price": 250000, "capacity": 100 },
                          { "name": "VIP", "price": 900000, "capacity": 10 }],
            })),
        )
        .await;
    assert_eq!(status, 201, "{planned}");
    assert_eq!(planned["timezone"], "Asia/Jakarta", "the venue's zone");
    assert_eq!(planned["ticketing"]["status"], "unpublished");
    let event_path = format!("/promoter/events/{}", planned["id"].as_str().unwrap());

    // Publishing: the event and its ticket types appear in the organization, on sale.
    let (status, published) = w.publish(&promoter, &event_path).await;
    assert_eq!(status, 200, "{published}\n{}", w.logs());
    assert_eq!(published["ticketing"]["status"], "published");
    assert_eq!(published["ticketing"]["upToDate"], true);
    let nextkt_event = published["ticketing"]["nextktEventId"]
        .as_str()
        .unwrap()
        .to_string();
    let festival = published["tiers"][0]["nextktTicketTypeId"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, seen) = w
        .network(
            &promoter.company,
            &format!("/network/events/{nextkt_event}"),
        )
        .await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["event"]["status"], "published");
    assert_eq!(seen["event"]["title"]["en"], "Hindia Live");
    assert_eq!(seen["event"]["venue"]["name"], "Istora Senayan");
    assert_eq!(seen["event"]["venue"]["snapshot"], "fresh");
    assert_eq!(seen["event"]["artists"][0]["name"], "Hindia");
    assert_eq!(seen["ticket_types"].as_array().unwrap().len(), 2);

    // A buyer buys on Nextkt, through a storefront key of the organization.
    assert_eq!(link["nextktOrganizationId"], promoter.company.as_str());
    let admin_key = w.sealed_key(&promoter.company).await.expect("linked");
    let (status, storefront) = w
        .nextkt(
            &admin_key,
            Method::POST,
            "/admin/storefront-keys",
            Some(json!({ "name": "Java Promotions web", "mode": "test" })),
        )
        .await;
    assert_eq!(status, 201, "{storefront}");
    let storefront = storefront["secret"].as_str().unwrap().to_string();
    w.buy(&storefront, &nextkt_event, &festival, 2).await;

    // Kisum shows the sale.
    let (status, sales) = w
        .kisum(&promoter, Method::GET, &format!("{event_path}/sales"), None)
        .await;
    assert_eq!(status, 200, "{sales}");
    assert_eq!(sales["ticketsSold"], 2);
    assert_eq!(sales["tiers"][0]["name"], "Festival");
    assert_eq!(sales["tiers"][0]["sold"], 2);
    assert_eq!(sales["tiers"][0]["available"], 98);
    assert_eq!(sales["tiers"][0]["tierId"], published["tiers"][0]["id"]);
    assert_eq!(sales["byDay"][0]["tickets"], 2);
    // What buyers paid: the tickets and the platform fee they were charged on top.
    assert!(sales["net"].as_i64().unwrap() >= 500000, "{sales}");
    assert_eq!(sales["net"], sales["byDay"][0]["gross"]);

    // Publishing again changes nothing: one event, two ticket types, the same ids.
    let (status, again) = w.publish(&promoter, &event_path).await;
    assert_eq!(status, 200);
    assert_eq!(again["ticketing"]["nextktEventId"], nextkt_event.as_str());
    assert_eq!(again["ticketing"]["attempts"], 1, "no second run");
    // A change is published as a change: the same event, updated, no new ticket types
    // but the one added.
    let (status, changed) = w.change(&promoter, &event_path, Some(json!({ "title": "Hindia Live in Jakarta",
                         "tiers": [
                             { "id": published["tiers"][0]["id"], "name": "Festival", "price": 250000, "capacity": 120 },
                             { "id": published["tiers"][1]["id"], "name": "VIP", "price": 900000, "capacity": 10 },
                             { "name": "Balcony", "price": 150000, "capacity": 50 }] })),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["ticketing"]["upToDate"], false);
    for _ in 0..2 {
        let (status, republished) = w.publish(&promoter, &event_path).await;
        assert_eq!(status, 200, "{republished}");
        assert_eq!(republished["ticketing"]["upToDate"], true);
        assert_eq!(republished["ticketing"]["attempts"], 2);
    }
    let (_, listed) = w.network(&promoter.company, "/network/events").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    let (_, seen) = w
        .network(
            &promoter.company,
            &format!("/network/events/{nextkt_event}"),
        )
        .await;
    assert_eq!(seen["event"]["title"]["en"], "Hindia Live in Jakarta");
    let types = seen["ticket_types"].as_array().unwrap();
    assert_eq!(types.len(), 3, "{seen}");
    assert_eq!(types[0]["capacity"], 120);
    assert_eq!(types[0]["sold"], 2);

    // A refused change is visible on the event, not retried blindly, and fixed by a fix.
    let tiers_with = |festival_capacity: i64| {
        json!({ "tiers": [
            { "id": published["tiers"][0]["id"], "name": "Festival", "price": 250000, "capacity": festival_capacity },
            { "id": published["tiers"][1]["id"], "name": "VIP", "price": 900000, "capacity": 10 },
            { "id": republished_tier(&changed, 2), "name": "Balcony", "price": 150000, "capacity": 50 }] })
    };
    let (status, _) = w.change(&promoter, &event_path, Some(tiers_with(1))).await;
    assert_eq!(status, 200);
    let (status, refused) = w.publish(&promoter, &event_path).await;
    assert_eq!(status, 502, "{refused}");
    assert_eq!(refused["code"], "nextkt_refused");
    let (_, failed) = w.kisum(&promoter, Method::GET, &event_path, None).await;
    assert_eq!(failed["ticketing"]["status"], "failed");
    assert!(
        failed["ticketing"]["lastError"]
            .as_str()
            .unwrap()
            .contains("422"),
        "{failed}"
    );
    assert!(failed["ticketing"]["retryAt"].is_null());
    let (status, _) = w
        .change(&promoter, &event_path, Some(tiers_with(120)))
        .await;
    assert_eq!(status, 200);
    let (status, fixed) = w.publish(&promoter, &event_path).await;
    assert_eq!(status, 200, "{fixed}");
    assert_eq!(fixed["ticketing"]["status"], "published");
    assert!(fixed["ticketing"]["lastError"].is_null());

    // The venue's rename reaches Nextkt's snapshot through its refresh job.
    let (status, _) = w
        .kisum(
            &venue_co,
            Method::PATCH,
            &format!("/venue/venues/{venue_id}"),
            Some(json!({ "name": "Istora Gelora Bung Karno" })),
        )
        .await;
    assert_eq!(status, 200);
    eventually("the rename reaches Nextkt", || async {
        let (_, seen) = w
            .network(
                &promoter.company,
                &format!("/network/events/{nextkt_event}"),
            )
            .await;
        (seen["event"]["venue"]["name"] == "Istora Gelora Bung Karno").then_some(())
    })
    .await;
    // And the venue company now sees the event as its venue's (without the money).
    let (status, as_venue) = w
        .network(
            &venue_co.company,
            &format!("/network/events/{nextkt_event}"),
        )
        .await;
    assert_eq!(status, 200, "{as_venue}");
    assert_eq!(as_venue["event"]["roles"], json!(["venue"]));
    assert!(as_venue["net"].is_null());

    // Kisum stops: Nextkt still sells; its lookups say Kisum is unavailable.
    w.kisum.kill();
    w.buy(&storefront, &nextkt_event, &festival, 1).await;
    let (status, lookup) = w
        .nextkt(&admin_key, Method::GET, "/admin/venues?q=istora", None)
        .await;
    assert_eq!(status, 503, "{lookup}");
    assert_eq!(lookup["code"], "kisum_unavailable");
    let (status, storefront_event) = w
        .nextkt(
            &storefront,
            Method::GET,
            &format!("/consumer/events/{nextkt_event}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{storefront_event}");
    assert_eq!(
        storefront_event["venue"]["name"],
        "Istora Gelora Bung Karno"
    );

    // Kisum back (same database): the sale made meanwhile shows; rotation keeps publishing
    // working and retires the old key.
    w.kisum = Server::start(
        "kisum",
        w.kisum_port,
        &w.kisum_env,
        w.logs.path().join("kisum.log"),
    )
    .await;
    let (status, lookup) = w
        .nextkt(&admin_key, Method::GET, "/admin/venues?q=istora", None)
        .await;
    assert_eq!(status, 200, "{lookup}");
    let (_, sales) = w
        .kisum(&promoter, Method::GET, &format!("{event_path}/sales"), None)
        .await;
    assert_eq!(sales["ticketsSold"], 3, "{sales}");
    let (status, _) = w
        .kisum(&promoter, Method::POST, "/ticketing/link/rotate", None)
        .await;
    assert_eq!(status, 200);
    let rotated = w.sealed_key(&promoter.company).await.unwrap();
    assert_ne!(rotated, admin_key);
    let (status, _) = w
        .nextkt(&admin_key, Method::GET, "/admin/organization", None)
        .await;
    assert_eq!(status, 401, "the old key is retired");
    let (status, _) = w
        .change(
            &promoter,
            &event_path,
            Some(json!({ "title": "Hindia: Lagipula Hidup" })),
        )
        .await;
    assert_eq!(status, 200);
    let (status, renamed) = w.publish(&promoter, &event_path).await;
    assert_eq!(status, 200, "{renamed}");
    let (_, seen) = w
        .network(
            &promoter.company,
            &format!("/network/events/{nextkt_event}"),
        )
        .await;
    assert_eq!(seen["event"]["title"]["en"], "Hindia: Lagipula Hidup");

    // Tenancy: another promoter reaches none of it, in Kisum or through the network.
    let rival = w
        .signup("boss@rival.test", "Rival Promotions", "basic_promoter")
        .await;
    let (status, _) = w.kisum(&rival, Method::POST, "/ticketing/link", None).await;
    assert_eq!(status, 200);
    for (method, path) in [
        (Method::GET, event_path.clone()),
        (Method::PATCH, event_path.clone()),
        (Method::POST, format!("{event_path}/publish")),
        (Method::GET, format!("{event_path}/sales")),
    ] {
        let body = (method == Method::PATCH).then(|| json!({ "title": "Taken" }));
        let (status, answer) = w.kisum(&rival, method, &path, body).await;
        assert_eq!(status, 404, "{path}: {answer}");
    }
    let (status, _) = w
        .network(&rival.company, &format!("/network/events/{nextkt_event}"))
        .await;
    assert_eq!(status, 404);
    let (_, listed) = w.network(&rival.company, "/network/events").await;
    assert_eq!(listed["items"], json!([]));
    let rival_key = w.sealed_key(&rival.company).await.unwrap();
    for path in [
        format!("/admin/events/{nextkt_event}"),
        format!("/admin/events/{nextkt_event}/ticket-types"),
    ] {
        let (status, _) = w.nextkt(&rival_key, Method::GET, &path, None).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = w
        .nextkt(
            &rival_key,
            Method::POST,
            &format!("/admin/events/{nextkt_event}/ticket-types"),
            Some(json!({ "name": "Pirate", "price": 1, "capacity": 1 })),
        )
        .await;
    assert_eq!(
        status, 404,
        "a company cannot publish into another's organization"
    );
    // The machine routes refuse a missing or wrong key, and say nothing else.
    for url in [
        format!("{}/internal/venues", w.kisum.base),
        format!("{}/internal/venues/{venue_id}", w.kisum.base),
        format!("{}/internal/artists/{artist_id}", w.kisum.base),
        format!("{}/network/events", w.nextkt.base),
        format!("{}/network/events/{nextkt_event}", w.nextkt.base),
    ] {
        let (status, body) = w
            .call(
                Method::GET,
                url.clone(),
                &[("x-org", promoter.company.as_str())],
                None,
            )
            .await;
        assert_eq!(status, 401, "{url}: {body}");
        let (status, body) = w
            .call(
                Method::GET,
                url.clone(),
                &[
                    ("x-internal-api-key", "not-the-key"),
                    ("x-org", promoter.company.as_str()),
                ],
                None,
            )
            .await;
        assert_eq!(status, 401, "{url}: {body}");
        assert!(!body.to_string().contains("Istora"), "{body}");
    }

    // Unlinking: Nextkt refuses the key Kisum let go; publishing says to link again.
    let (status, _) = w
        .kisum(&promoter, Method::DELETE, "/ticketing/link", None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = w
        .nextkt(&rotated, Method::GET, "/admin/organization", None)
        .await;
    assert_eq!(status, 401);
    let (status, _) = w
        .change(&promoter, &event_path, Some(json!({ "title": "Unlinked" })))
        .await;
    assert_eq!(status, 200);
    let (status, refused) = w.publish(&promoter, &event_path).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["code"], "not_linked");
    // The organization and its sales stay in Nextkt.
    let (_, seen) = w
        .network(
            &promoter.company,
            &format!("/network/events/{nextkt_event}"),
        )
        .await;
    assert_eq!(seen["tickets_sold"], 3);
}

fn republished_tier(event: &Value, index: usize) -> Value {
    event["tiers"][index]["id"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    the_whole_walk(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    the_whole_walk(Backend::Postgres).await
}
