//! Mode A: Kisum provisions a company's Nextkt organization as its partner and keeps the
//! organization's key sealed; relinking is idempotent, rotation and unlinking revoke keys
//! in Nextkt; promoter events are checked, published once however often or concurrently
//! they are published, and a lost answer or an outage ends in one event, retried by the
//! job. Both servers run in this process (Kisum reaches Nextkt through a relay that can cut
//! it off or lose its answers); each test runs on SQLite and on PostgreSQL.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use service::clock::ManualClock;
use service::testkit::{Backend, Relay, RelayMode, TestDatabase, fresh_database};

const SECRETS_KEY: &str = "8f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c";
const PASSWORD: &str = "a long enough password";

struct Running {
    base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
    _database: TestDatabase,
}

struct Both {
    nextkt: Running,
    nextkt_state: nextkt::AppState,
    kisum: Running,
    kisum_state: kisum::AppState,
    /// Between Kisum and Nextkt.
    relay: Relay,
    /// Kisum's clock (retry times).
    clock: Arc<ManualClock>,
    client: reqwest::Client,
}

async fn start(backend: Backend, link_to_nextkt: bool) -> Both {
    service::http::install_crypto_provider();
    // Nextkt, with a partner for Kisum.
    let (url, database) = fresh_database(backend, "nextkt", "NEXTKT_TEST_DATABASE_URL").await;
    let mut config = nextkt::platform::config::ServeConfig::defaults();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.database.database_url = url;
    config.database.db_max_connections = 4;
    config.run_jobs = false;
    let app = nextkt::Application::build(config)
        .await
        .expect("nextkt builds");
    let nextkt_base = format!("http://{}", app.local_addr());
    let nextkt_state = app.state().clone();
    let (_, partner_key) = nextkt::tenancy::partners::create(&app.state().db, "Kisum", 0)
        .await
        .expect("partner");
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run(async move {
        let _ = rx.await;
    }));
    let nextkt = Running {
        base: nextkt_base.clone(),
        _stop: stop,
        _database: database,
    };
    let relay = Relay::start(&nextkt_base).await;
    // Kisum, driving Nextkt with that partner key.
    let (url, database) = fresh_database(backend, "kisum", "NEXTKT_TEST_DATABASE_URL").await;
    let mut config = kisum::platform::config::ServeConfig::defaults();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.database.database_url = url;
    config.database.db_max_connections = 4;
    config.no_jobs = true;
    config.auth_rate_per_ip = 10_000;
    if link_to_nextkt {
        config.nextkt_url = Some(relay.base.clone());
        config.nextkt_partner_key = Some(partner_key);
        config.secrets_key = Some(SECRETS_KEY.into());
    }
    let clock = ManualClock::starting_now();
    let app = kisum::Application::build_with_clock(config, clock.clone())
        .await
        .expect("kisum builds");
    let kisum_base = format!("http://{}", app.local_addr());
    let kisum_state = app.state().clone();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run(async move {
        let _ = rx.await;
    }));
    Both {
        nextkt,
        nextkt_state,
        relay,
        clock,
        kisum: Running {
            base: kisum_base,
            _stop: stop,
            _database: database,
        },
        kisum_state,
        client: reqwest::Client::new(),
    }
}

impl Both {
    async fn call(
        &self,
        method: Method,
        url: String,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, Value) {
        e2e::call(&self.client, method, url, headers, body).await
    }

    async fn signup(&self, email: &str) -> (String, String, String) {
        let (status, body) = self
            .call(
                Method::POST,
                format!("{}/auth/signup", self.kisum.base),
                &[],
                Some(
                    json!({ "email": email, "password": PASSWORD, "name": "Promoter",
                             "companyName": "Java Promotions", "package": "basic_promoter" }),
                ),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let s = |k: &str| body[k].as_str().unwrap().to_string();
        (s("accessToken"), s("companyId"), s("userId"))
    }

    async fn kisum(
        &self,
        token: &str,
        company: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let auth = format!("Bearer {token}");
        self.call(
            method,
            format!("{}{path}", self.kisum.base),
            &[("authorization", auth.as_str()), ("x-org", company)],
            body,
        )
        .await
    }

    async fn signup_as(&self, email: &str, package: &str) -> (String, String) {
        let (status, body) = self
            .call(
                Method::POST,
                format!("{}/auth/signup", self.kisum.base),
                &[],
                Some(
                    json!({ "email": email, "password": PASSWORD, "name": "Someone",
                             "companyName": "Another Company", "package": package }),
                ),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let s = |k: &str| body[k].as_str().unwrap().to_string();
        (s("accessToken"), s("companyId"))
    }

    /// A directory venue and artist profile (their companies made on the way).
    async fn directory(&self) -> (String, String) {
        let (token, company) = self.signup_as("ops@hall.test", "basic_venue").await;
        let (status, venue) = self
            .kisum(
                &token,
                &company,
                Method::POST,
                "/venue/venues",
                Some(
                    json!({ "name": "Istora", "address": "Jl. Pintu Satu", "city": "Jakarta",
                             "country": "ID", "timezone": "Asia/Jakarta", "capacity": 7000 }),
                ),
            )
            .await;
        assert_eq!(status, 201, "{venue}");
        let (token, company) = self.signup_as("mgmt@band.test", "basic_artist").await;
        let (status, artist) = self
            .kisum(
                &token,
                &company,
                Method::POST,
                "/artist/profiles",
                Some(json!({ "name": "Hindia", "country": "ID" })),
            )
            .await;
        assert_eq!(status, 201, "{artist}");
        (
            venue["id"].as_str().unwrap().to_string(),
            artist["id"].as_str().unwrap().to_string(),
        )
    }

    /// Rows of `table` (`events` or `ticket_types`) the organization has in Nextkt.
    async fn nextkt_rows(&self, table: &str, org: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} WHERE organization_id = $1"
        )))
        .bind(org)
        .fetch_one(&self.nextkt_state.db.pool)
        .await
        .expect("count")
    }

    async fn publish(&self, token: &str, company: &str, event_path: &str) -> (u16, Value) {
        let path = format!("{event_path}/publish");
        self.kisum(token, company, Method::POST, &path, None).await
    }

    /// Whether Nextkt accepts `key` as an organization key.
    async fn nextkt_accepts(&self, key: &str) -> bool {
        let auth = format!("Bearer {key}");
        let (status, _) = self
            .call(
                Method::GET,
                format!("{}/admin/organization", self.nextkt.base),
                &[("authorization", auth.as_str())],
                None,
            )
            .await;
        status == 200
    }

    async fn org_key(&self, company: &str) -> Option<(String, String)> {
        kisum::ticketing::link::organization_key(
            &self.kisum_state,
            &kisum::ids::CompanyId::from(company),
        )
        .await
        .expect("key readable")
    }
}

async fn a_company_links_its_ticketing_once_and_keys_rotate(backend: Backend) {
    let both = start(backend, true).await;
    let (token, company, user) = both.signup("boss@java.test").await;
    let (status, link) = both
        .kisum(&token, &company, Method::POST, "/ticketing/link", None)
        .await;
    assert_eq!(status, 200, "{link}");
    assert_eq!(link["status"], "linked");
    assert_eq!(link["nextktOrganizationId"], company.as_str());
    assert_eq!(link["linkedBy"], format!("user:{user}"));
    assert!(link.get("apiKey").is_none() && !link.to_string().contains("nkt_live"));
    let (org, first) = both.org_key(&company).await.expect("linked");
    assert_eq!(org, company);
    assert!(both.nextkt_accepts(&first).await);
    // Sealed at rest: the secret is nowhere in Kisum's table.
    let sealed: String =
        sqlx::query_scalar("SELECT api_key_sealed FROM ticketing_links WHERE company_id = $1")
            .bind(&company)
            .fetch_one(&both.kisum_state.db.pool)
            .await
            .unwrap();
    assert!(!sealed.contains(&first));

    // Linking again (a retry after a lost answer) finds the same organization and takes over
    // with a new key; the old one stops working.
    let (status, again) = both
        .kisum(&token, &company, Method::POST, "/ticketing/link", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(again["nextktOrganizationId"], company.as_str());
    let (_, second) = both.org_key(&company).await.unwrap();
    assert_ne!(second, first);
    assert!(both.nextkt_accepts(&second).await);
    assert!(
        !both.nextkt_accepts(&first).await,
        "the replaced key is revoked"
    );

    // Rotation: a new key, the previous revoked.
    let (status, _) = both
        .kisum(
            &token,
            &company,
            Method::POST,
            "/ticketing/link/rotate",
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (_, third) = both.org_key(&company).await.unwrap();
    assert!(both.nextkt_accepts(&third).await);
    assert!(!both.nextkt_accepts(&second).await);

    // A plain member may not touch the link.
    let (clerk_token, _, _) = both.signup("clerk@java.test").await;
    let (status, _) = both
        .kisum(
            &token,
            &company,
            Method::POST,
            "/auth/members",
            Some(json!({ "email": "clerk@java.test", "role": "USER" })),
        )
        .await;
    assert_eq!(status, 201);
    let (status, refused) = both
        .kisum(
            &clerk_token,
            &company,
            Method::POST,
            "/ticketing/link/rotate",
            None,
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(refused["code"], "delegation_denied");
    let (status, seen) = both
        .kisum(&clerk_token, &company, Method::GET, "/ticketing/link", None)
        .await;
    assert_eq!(status, 200, "members may see that it is linked");
    assert!(!seen.to_string().contains("nkt_"));

    // Unlinking revokes the key in Nextkt; the organization stays.
    let (status, unlinked) = both
        .kisum(&token, &company, Method::DELETE, "/ticketing/link", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(unlinked["status"], "unlinked");
    assert!(
        !both.nextkt_accepts(&third).await,
        "an unlinked company's old key is refused"
    );
    assert!(both.org_key(&company).await.is_none());
    let (status, relinked) = both
        .kisum(&token, &company, Method::POST, "/ticketing/link", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(relinked["nextktOrganizationId"], company.as_str());
    let (_, fourth) = both.org_key(&company).await.unwrap();
    assert!(both.nextkt_accepts(&fourth).await);
}

async fn without_nextkt_linking_is_said_plainly(backend: Backend) {
    let both = start(backend, false).await;
    let (token, company, _) = both.signup("alone@java.test").await;
    let (status, body) = both
        .kisum(&token, &company, Method::POST, "/ticketing/link", None)
        .await;
    assert_eq!(status, 503);
    assert_eq!(body["code"], "ticketing_not_configured");
    let (status, body) = both
        .kisum(&token, &company, Method::GET, "/ticketing/link", None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "not_linked");
}

fn an_event(venue: &str, artist: &str) -> Value {
    json!({
        "title": "Hindia Live", "startsAt": "2031-03-01T13:00:00Z", "endsAt": "2031-03-01T16:00:00Z",
        "venueId": venue, "artistIds": [artist],
        "tiers": [{ "name": "Festival", "price": 250000, "capacity": 100 },
                  { "name": "VIP", "price": 900000, "capacity": 10 }],
    })
}

fn merged(base: &Value, change: Value) -> Value {
    let mut out = base.clone();
    for (k, v) in change.as_object().unwrap() {
        out[k] = v.clone();
    }
    out
}

async fn promoter_events_are_checked_before_anything_is_kept(backend: Backend) {
    let both = start(backend, true).await;
    let (venue, artist) = both.directory().await;
    let (token, company, _) = both.signup("boss@java.test").await;
    let good = an_event(&venue, &artist);
    let tier = |name: &str, price: i64, capacity: i64| json!({ "name": name, "price": price, "capacity": capacity });
    for (change, status, code) in [
        (json!({ "venueId": "no-such-venue" }), 422, "unknown_venue"),
        (
            json!({ "artistIds": [artist, "no-such-artist"] }),
            422,
            "unknown_artist",
        ),
        (
            json!({ "endsAt": "2031-03-01T12:00:00Z" }),
            400,
            "validation_failed",
        ),
        (
            json!({ "startsAt": "next friday" }),
            400,
            "validation_failed",
        ),
        (json!({ "title": " " }), 400, "validation_failed"),
        (json!({ "currency": "RUPIAH" }), 400, "validation_failed"),
        (
            json!({ "tiers": [tier("GA", 1, 5), tier("GA", 2, 5)] }),
            400,
            "validation_failed",
        ),
        (
            json!({ "tiers": [tier("GA", 1, 0)] }),
            400,
            "validation_failed",
        ),
        (
            json!({ "tiers": [tier("GA", -1, 5)] }),
            400,
            "validation_failed",
        ),
        (
            json!({ "tiers": [{ "id": "x", "name": "GA", "price": 1, "capacity": 5 }] }),
            400,
            "validation_failed",
        ),
        (json!({ "surprise": true }), 400, "invalid_body"),
    ] {
        let body = merged(&good, change.clone());
        let (got, problem) = both
            .kisum(
                &token,
                &company,
                Method::POST,
                "/promoter/events",
                Some(body),
            )
            .await;
        assert_eq!(
            (got, problem["code"].as_str()),
            (status, Some(code)),
            "{change}: {problem}"
        );
    }
    let (_, listed) = both
        .kisum(&token, &company, Method::GET, "/promoter/events", None)
        .await;
    assert_eq!(listed["items"], json!([]), "nothing refused was kept");

    // Only promoter companies plan events.
    let (venue_token, venue_company) = both.signup_as("second@hall.test", "basic_venue").await;
    let (status, problem) = both
        .kisum(
            &venue_token,
            &venue_company,
            Method::POST,
            "/promoter/events",
            Some(good.clone()),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(problem["code"], "promoter_module_required");

    // Kept, but not publishable before linking; nothing in Nextkt to read yet.
    let (status, event) = both
        .kisum(
            &token,
            &company,
            Method::POST,
            "/promoter/events",
            Some(good.clone()),
        )
        .await;
    assert_eq!(status, 201, "{event}");
    let path = format!("/promoter/events/{}", event["id"].as_str().unwrap());
    let (status, problem) = both
        .kisum(
            &token,
            &company,
            Method::GET,
            &format!("{path}/sales"),
            None,
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("not_published"))
    );
    let (status, problem) = both.publish(&token, &company, &path).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("not_linked"))
    );
    let (_, seen) = both.kisum(&token, &company, Method::GET, &path, None).await;
    assert_eq!(seen["ticketing"]["status"], "unpublished");
    assert_eq!(seen["ticketing"]["attempts"], 0);

    // An event without tiers cannot go on sale.
    let (status, _) = both
        .kisum(&token, &company, Method::POST, "/ticketing/link", None)
        .await;
    assert_eq!(status, 200);
    let (_, bare) = both
        .kisum(
            &token,
            &company,
            Method::POST,
            "/promoter/events",
            Some(merged(&good, json!({ "tiers": [] }))),
        )
        .await;
    let (status, problem) = both
        .kisum(
            &token,
            &company,
            Method::POST,
            &format!("/promoter/events/{}/publish", bare["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("no_tiers")));
    assert_eq!(both.nextkt_rows("events", &company).await, 0);

    // Once in Nextkt, what Nextkt sells is protected: no removing a sold tier, no new
    // currency; an unknown tier is not found.
    let (status, published) = both.publish(&token, &company, &path).await;
    assert_eq!(status, 200, "{published}");
    let festival = published["tiers"][0]["id"].clone();
    for (change, status, code) in [
        (
            json!({ "tiers": [{ "id": festival, "name": "Festival", "price": 250000, "capacity": 100 }] }),
            422,
            "tier_published",
        ),
        (json!({ "currency": "USD" }), 422, "currency_fixed"),
        (
            json!({ "tiers": [{ "id": "no-such-tier", "name": "X", "price": 1, "capacity": 1 }] }),
            404,
            "not_found",
        ),
        (json!({ "venueId": "no-such-venue" }), 422, "unknown_venue"),
    ] {
        let (got, problem) = both
            .kisum(&token, &company, Method::PATCH, &path, Some(change.clone()))
            .await;
        assert_eq!(
            (got, problem["code"].as_str()),
            (status, Some(code)),
            "{change}: {problem}"
        );
    }
    let (_, seen) = both.kisum(&token, &company, Method::GET, &path, None).await;
    assert_eq!(seen["revision"], 1, "no refused change was kept");
    assert_eq!(seen["ticketing"]["upToDate"], true);
}

async fn two_publishes_at_once_make_one_event(backend: Backend) {
    let both = start(backend, true).await;
    let (venue, artist) = both.directory().await;
    let (token, company, _) = both.signup("boss@java.test").await;
    let (status, _) = both
        .kisum(&token, &company, Method::POST, "/ticketing/link", None)
        .await;
    assert_eq!(status, 200);
    let (_, event) = both
        .kisum(
            &token,
            &company,
            Method::POST,
            "/promoter/events",
            Some(an_event(&venue, &artist)),
        )
        .await;
    let path = format!("/promoter/events/{}", event["id"].as_str().unwrap());
    let publish = format!("{path}/publish");
    for round in 0..2 {
        let (a, b) = tokio::join!(
            both.kisum(&token, &company, Method::POST, &publish, None),
            both.kisum(&token, &company, Method::POST, &publish, None)
        );
        for (status, body) in [&a, &b] {
            assert!(
                *status == 200 || (*status == 409 && body["code"] == "publish_in_progress"),
                "round {round}: {status} {body}"
            );
        }
        assert!(a.0 == 200 || b.0 == 200, "one of them ran");
        // Whatever the loser saw, once the winner is done the event is in Nextkt once.
        let (status, seen) = both
            .kisum(&token, &company, Method::POST, &publish, None)
            .await;
        assert_eq!(status, 200, "{seen}");
        assert_eq!(seen["ticketing"]["upToDate"], true);
        assert_eq!(both.nextkt_rows("events", &company).await, 1);
        assert_eq!(both.nextkt_rows("ticket_types", &company).await, 2 + round);
        // The next round publishes a change (one more tier) the same way.
        let mut tiers = seen["tiers"].as_array().unwrap().clone();
        for t in &mut tiers {
            t.as_object_mut().unwrap().remove("nextktTicketTypeId");
        }
        tiers.push(json!({ "name": format!("Extra {round}"), "price": 1000, "capacity": 5 }));
        let (status, _) = both
            .kisum(
                &token,
                &company,
                Method::PATCH,
                &path,
                Some(json!({ "tiers": tiers })),
            )
            .await;
        assert_eq!(status, 200);
    }
}

async fn a_lost_answer_or_an_outage_ends_in_one_event(backend: Backend) {
    let both = start(backend, true).await;
    let (venue, artist) = both.directory().await;
    let (token, company, _) = both.signup("boss@java.test").await;
    let (status, _) = both
        .kisum(&token, &company, Method::POST, "/ticketing/link", None)
        .await;
    assert_eq!(status, 200);
    let (_, event) = both
        .kisum(
            &token,
            &company,
            Method::POST,
            "/promoter/events",
            Some(an_event(&venue, &artist)),
        )
        .await;
    let path = format!("/promoter/events/{}", event["id"].as_str().unwrap());

    // Nextkt acts, but its answers are lost: the run fails, visibly, to be retried.
    both.relay.set(RelayMode::SwallowAnswers);
    let (status, problem) = both.publish(&token, &company, &path).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (503, Some("nextkt_unavailable"))
    );
    let (_, seen) = both.kisum(&token, &company, Method::GET, &path, None).await;
    assert_eq!(seen["ticketing"]["status"], "failed");
    assert!(
        seen["ticketing"]["nextktEventId"].is_null(),
        "its answer was never seen"
    );
    assert!(seen["ticketing"]["retryAt"].is_string(), "{seen}");
    assert!(
        seen["ticketing"]["lastError"]
            .as_str()
            .unwrap()
            .contains("did not answer")
    );
    assert_eq!(
        both.nextkt_rows("events", &company).await,
        1,
        "Nextkt did act"
    );

    // Not due yet: the job leaves it.
    both.relay.set(RelayMode::Up);
    kisum::promoter::publish::retry_due(&both.kisum_state)
        .await
        .unwrap();
    let (_, seen) = both.kisum(&token, &company, Method::GET, &path, None).await;
    assert_eq!(seen["ticketing"]["attempts"], 1);
    // Due: the job repeats the same create and finds the event Nextkt made.
    both.clock.advance_secs(31);
    let retried = kisum::promoter::publish::retry_due(&both.kisum_state)
        .await
        .unwrap();
    assert_eq!(retried, 1);
    let (_, seen) = both.kisum(&token, &company, Method::GET, &path, None).await;
    assert_eq!(seen["ticketing"]["status"], "published", "{seen}");
    assert!(seen["ticketing"]["lastError"].is_null());
    assert_eq!(both.nextkt_rows("events", &company).await, 1);
    assert_eq!(both.nextkt_rows("ticket_types", &company).await, 2);

    // Nextkt down while a change is published: failed, then retried once it is back.
    both.relay.set(RelayMode::Down);
    let (status, _) = both
        .kisum(
            &token,
            &company,
            Method::PATCH,
            &path,
            Some(json!({ "title": "Hindia Live, again" })),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = both.publish(&token, &company, &path).await;
    assert_eq!(status, 503);
    both.relay.set(RelayMode::Up);
    // The third run failed: its retry waits 30 s × 2² = 2 min.
    let (_, seen) = both.kisum(&token, &company, Method::GET, &path, None).await;
    assert_eq!(seen["ticketing"]["attempts"], 3);
    both.clock.advance_secs(100);
    assert_eq!(
        kisum::promoter::publish::retry_due(&both.kisum_state)
            .await
            .unwrap(),
        0
    );
    both.clock.advance_secs(21);
    assert_eq!(
        kisum::promoter::publish::retry_due(&both.kisum_state)
            .await
            .unwrap(),
        1
    );
    let (_, seen) = both.kisum(&token, &company, Method::GET, &path, None).await;
    assert_eq!(seen["ticketing"]["status"], "published", "{seen}");
    assert_eq!(seen["ticketing"]["upToDate"], true);
    let title: String =
        sqlx::query_scalar("SELECT title_json FROM events WHERE organization_id = $1")
            .bind(&company)
            .fetch_one(&both.nextkt_state.db.pool)
            .await
            .unwrap();
    assert!(title.contains("Hindia Live, again"), "{title}");
    assert_eq!(both.nextkt_rows("events", &company).await, 1);
}

macro_rules! on_both {
    ($($name:ident),*) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(service::testkit::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(service::testkit::Backend::Postgres).await
            }
        }
    )*};
}

on_both!(
    a_company_links_its_ticketing_once_and_keys_rotate,
    without_nextkt_linking_is_said_plainly,
    promoter_events_are_checked_before_anything_is_kept,
    two_publishes_at_once_make_one_event,
    a_lost_answer_or_an_outage_ends_in_one_event
);
