//! Nextkt with a real Kisum beside it (in-process, on a database of the same engine):
//! operators look up Kisum's venues and artists through Nextkt; what Kisum cannot answer is
//! said plainly, never invented.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Auth, Backend, TestApp, spawn_app_with};
use service::testkit::Relay;

const KISUM_KEY: &str = "kisum-internal-key-for-nextkt-0123";

/// A running Kisum, with a venue company that has published one venue and an artist
/// company with one profile.
pub struct Kisum {
    pub base: String,
    pub venue_id: String,
    pub artist_id: String,
    pub venue_owner: (String, String),
    pub artist_owner: String,
    /// Kisum's own database, for what its API never does (forgetting a venue).
    pub database_url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _database: service::testkit::TestDatabase,
}

impl Kisum {
    pub async fn start(backend: Backend) -> Kisum {
        service::http::install_crypto_provider();
        let (url, database) =
            service::testkit::fresh_database(backend, "kisum", "NEXTKT_TEST_DATABASE_URL").await;
        let mut config = kisum::platform::config::ServeConfig::defaults();
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.database.database_url = url.clone();
        config.database.db_max_connections = 4;
        config.internal_api_key = Some(KISUM_KEY.into());
        config.no_jobs = true;
        config.auth_rate_per_ip = 10_000;
        let app = kisum::Application::build(config)
            .await
            .expect("kisum builds");
        let base = format!("http://{}", app.local_addr());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run(async move {
            let _ = rx.await;
        }));
        let client = reqwest::Client::new();
        let signup = |email: &str, package: &str| {
            let client = client.clone();
            let base = base.clone();
            let body = json!({ "email": email, "password": "a long password", "name": "Owner",
                               "companyName": email, "package": package });
            async move {
                let resp = client
                    .post(format!("{base}/auth/signup"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 201);
                let v: Value = resp.json().await.unwrap();
                (
                    v["accessToken"].as_str().unwrap().to_string(),
                    v["companyId"].as_str().unwrap().to_string(),
                )
            }
        };
        let post = |who: &(String, String), path: &str, body: Value| {
            let client = client.clone();
            let url = format!("{base}{path}");
            let (token, company) = who.clone();
            async move {
                let resp = client
                    .post(url)
                    .bearer_auth(token)
                    .header("x-org", company)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 201);
                resp.json::<Value>().await.unwrap()
            }
        };
        let venue_owner = signup("hall@kisum.test", "basic_venue").await;
        let venue = post(
            &venue_owner,
            "/venue/venues",
            json!({ "name": "Istora Senayan", "address": "Jl. Pintu Satu", "city": "Jakarta",
                    "country": "ID", "timezone": "Asia/Makassar", "capacity": 7000 }),
        )
        .await;
        let agency = signup("agency@kisum.test", "basic_artist").await;
        let artist = post(
            &agency,
            "/artist/profiles",
            json!({ "name": "Hindia", "country": "ID", "genres": ["pop"] }),
        )
        .await;
        Kisum {
            database_url: url,
            artist_owner: agency.1.clone(),
            venue_id: venue["id"].as_str().unwrap().to_string(),
            artist_id: artist["id"].as_str().unwrap().to_string(),
            venue_owner,
            base,
            shutdown: Some(tx),
            _database: database,
        }
    }

    /// Renames the venue, as its owner does in Kisum.
    pub async fn rename_venue(&self, name: &str) {
        let resp = reqwest::Client::new()
            .patch(format!("{}/venue/venues/{}", self.base, self.venue_id))
            .bearer_auth(&self.venue_owner.0)
            .header("x-org", &self.venue_owner.1)
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }

    /// Stops the server (its port stops answering).
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn with_kisum(backend: Backend) -> (TestApp, Kisum) {
    let kisum = Kisum::start(backend).await;
    let base = kisum.base.clone();
    let app = spawn_app_with(backend, move |c| {
        c.kisum_url = Some(base);
        c.kisum_internal_api_key = Some(KISUM_KEY.into());
    })
    .await;
    (app, kisum)
}

async fn operators_look_up_kisum_venues_and_artists(backend: Backend) {
    let (app, mut kisum) = with_kisum(backend).await;
    let owner = app.signup("ops@promo.test").await;
    let auth = Auth::bearer(&owner.token);
    let found = app.get("/admin/venues?q=istora", &auth).await.expect(200);
    assert_eq!(found["items"][0]["id"], kisum.venue_id.as_str());
    assert_eq!(found["items"][0]["timezone"], "Asia/Makassar");
    let venue = app
        .get(&format!("/admin/venues/{}", kisum.venue_id), &auth)
        .await
        .expect(200);
    assert_eq!(venue["name"], "Istora Senayan");
    assert_eq!(venue["capacity"], 7000);
    let artists = app.get("/admin/artists?genre=pop", &auth).await.expect(200);
    assert_eq!(artists["items"][0]["id"], kisum.artist_id.as_str());
    let artist = app
        .get(&format!("/admin/artists/{}", kisum.artist_id), &auth)
        .await
        .expect(200);
    assert_eq!(artist["name"], "Hindia");
    app.get("/admin/venues/no-such-venue", &auth)
        .await
        .expect_problem(404, "not_found");
    app.get("/admin/venues/bad%20id", &auth)
        .await
        .expect_problem(404, "not_found");
    // Kisum goes away: a clear 503, never a made-up answer.
    kisum.stop();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    app.get("/admin/venues?q=istora", &auth)
        .await
        .expect_problem(503, "kisum_unavailable");
    app.get(&format!("/admin/artists/{}", kisum.artist_id), &auth)
        .await
        .expect_problem(503, "kisum_unavailable");
    let _ = &kisum.venue_owner;
}

async fn a_wrong_key_or_no_kisum_is_said_plainly(backend: Backend) {
    let kisum = Kisum::start(backend).await;
    let base = kisum.base.clone();
    let app = spawn_app_with(backend, move |c| {
        c.kisum_url = Some(base);
        c.kisum_internal_api_key = Some("not-the-kisum-key-at-all".into());
    })
    .await;
    let owner = app.signup("ops@wrong.test").await;
    let auth = Auth::bearer(&owner.token);
    app.get("/admin/venues", &auth)
        .await
        .expect_problem(503, "kisum_unavailable");
    let plain = spawn_app_with(backend, |_| {}).await;
    let owner = plain.signup("ops@plain.test").await;
    plain
        .get("/admin/artists", &Auth::bearer(&owner.token))
        .await
        .expect_problem(503, "kisum_not_configured");
    // Buyers and gate staff do not look things up in Kisum.
    let (_, gate_key) = plain.api_key(&owner, "gate").await;
    plain
        .call(Method::GET, "/admin/venues", &Auth::bearer(&gate_key), None)
        .await
        .expect_problem(403, "forbidden");
}

mod lookups {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        operators_look_up_kisum_venues_and_artists(Backend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        operators_look_up_kisum_venues_and_artists(Backend::Postgres).await
    }
}

mod misconfigured {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        a_wrong_key_or_no_kisum_is_said_plainly(Backend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        a_wrong_key_or_no_kisum_is_said_plainly(Backend::Postgres).await
    }
}

async fn events_keep_kisum_snapshots_and_follow_changes(backend: Backend) {
    let kisum = Kisum::start(backend).await;
    let relay = Relay::start(&kisum.base).await;
    let base = relay.base.clone();
    let app = spawn_app_with(backend, move |c| {
        c.kisum_url = Some(base);
        c.kisum_internal_api_key = Some(KISUM_KEY.into());
    })
    .await;
    let owner = app.signup("promoter@events.test").await;
    let auth = Auth::bearer(&owner.token);
    let event = json!({
        "title": { "en": "Hindia Live" },
        "starts_at": "2030-03-01T19:00:00+08:00",
        "ends_at": "2030-03-01T23:00:00+08:00",
        "venue": { "id": kisum.venue_id },
        "artist_ids": [kisum.artist_id],
    });
    let created = app
        .post("/admin/events", &auth, event.clone())
        .await
        .expect(201);
    assert_eq!(created["venue"]["name"], "Istora Senayan");
    assert_eq!(created["venue"]["city"], "Jakarta");
    assert_eq!(created["venue"]["capacity"], 7000);
    assert_eq!(created["venue"]["snapshot"], "fresh");
    assert_eq!(
        created["timezone"], "Asia/Makassar",
        "the venue's zone, none was given"
    );
    assert_eq!(created["artists"][0]["name"], "Hindia");
    let event_id = created["id"].as_str().unwrap().to_string();

    // Ids Kisum does not know are refused, and nothing is written.
    let before = app.count("events").await;
    let mut unknown = event.clone();
    unknown["venue"] = json!({ "id": "no-such-venue" });
    app.post("/admin/events", &auth, unknown)
        .await
        .expect_problem(422, "unknown_venue");
    let mut unknown = event.clone();
    unknown["artist_ids"] = json!(["no-such-artist"]);
    app.post("/admin/events", &auth, unknown)
        .await
        .expect_problem(422, "unknown_artist");
    assert_eq!(app.count("events").await, before);

    // A rename in Kisum reaches the event through the refresh job, once it is due.
    kisum.rename_venue("Istora Gelora").await;
    assert_eq!(
        nextkt::kisum::snapshots::refresh_once(&app.state)
            .await
            .unwrap(),
        0,
        "not due yet"
    );
    app.clock.advance_secs(301);
    assert!(
        nextkt::kisum::snapshots::refresh_once(&app.state)
            .await
            .unwrap()
            >= 1
    );
    let read = app
        .get(&format!("/admin/events/{event_id}"), &auth)
        .await
        .expect(200);
    assert_eq!(read["venue"]["name"], "Istora Gelora");

    // Kisum unreachable: the event is still saved, with the id and a pending snapshot.
    relay.set_up(false);
    let pending = app
        .post("/admin/events", &auth, event.clone())
        .await
        .expect(201);
    assert_eq!(pending["venue"]["id"], kisum.venue_id.as_str());
    assert_eq!(pending["venue"]["snapshot"], "pending");
    assert_eq!(pending["artists"][0]["snapshot"], "pending");
    let pending_id = pending["id"].as_str().unwrap().to_string();
    app.get("/admin/venues", &auth)
        .await
        .expect_problem(503, "kisum_unavailable");
    // Events that were read before keep showing what was read.
    let read = app
        .get(&format!("/admin/events/{event_id}"), &auth)
        .await
        .expect(200);
    assert_eq!(read["venue"]["name"], "Istora Gelora");
    // Back again: the job fills the pending snapshot in.
    relay.set_up(true);
    app.clock.advance_secs(31);
    nextkt::kisum::snapshots::refresh_once(&app.state)
        .await
        .unwrap();
    let filled = app
        .get(&format!("/admin/events/{pending_id}"), &auth)
        .await
        .expect(200);
    assert_eq!(filled["venue"]["name"], "Istora Gelora");
    assert_eq!(filled["venue"]["snapshot"], "fresh");
    assert_eq!(filled["artists"][0]["name"], "Hindia");

    // Kisum forgets the venue (its API never deletes; its database lost it): the events
    // keep what they showed, marked missing.
    {
        use sqlx::Connection;
        let mut conn = sqlx::AnyConnection::connect(&kisum.database_url)
            .await
            .unwrap();
        sqlx::query("DELETE FROM venue_spaces WHERE venue_id = $1")
            .bind(&kisum.venue_id)
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("DELETE FROM venues WHERE id = $1")
            .bind(&kisum.venue_id)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    app.clock.advance_secs(301);
    nextkt::kisum::snapshots::refresh_once(&app.state)
        .await
        .unwrap();
    let gone = app
        .get(&format!("/admin/events/{event_id}"), &auth)
        .await
        .expect(200);
    assert_eq!(gone["venue"]["snapshot"], "missing");
    assert_eq!(gone["venue"]["name"], "Istora Gelora");
}

mod snapshots {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        events_keep_kisum_snapshots_and_follow_changes(Backend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        events_keep_kisum_snapshots_and_follow_changes(Backend::Postgres).await
    }
}

async fn kisum_sees_the_events_that_involve_each_company(backend: Backend) {
    let (app, kisum) = with_kisum(backend).await;
    let owner = app.signup("organizer@network.test").await;
    let ev = app
        .ga_event(
            &owner,
            50,
            json!({
                "venue": { "id": kisum.venue_id },
                "artist_ids": [kisum.artist_id],
                "hosts": [{ "name": "Co-promoter", "kisum_company_id": "promoter-co", "share_bps": 3000 }],
            }),
            json!({ "price": 200_000 }),
        )
        .await;
    let order = app
        .checkout_anonymously(&owner.org_id, &ev, 2, "fan@network.test", "Fan")
        .await;
    assert_eq!(
        app.pay_by_webhook(&order["order"]["payments"][0]).await,
        "paid"
    );
    let as_company = |company: &str| {
        Auth::Headers(vec![
            (
                "x-internal-api-key".into(),
                crate::helpers::INTERNAL_KEY.into(),
            ),
            ("x-org".into(), company.into()),
        ])
    };
    // The host sees money and its share.
    let host = app
        .get("/network/events", &as_company("promoter-co"))
        .await
        .expect(200);
    assert_eq!(host["items"].as_array().unwrap().len(), 1);
    assert_eq!(host["items"][0]["roles"], json!(["host"]));
    let detail = app
        .get(
            &format!("/network/events/{}", ev.event_id),
            &as_company("promoter-co"),
        )
        .await
        .expect(200);
    assert_eq!(detail["tickets_sold"], 2);
    assert_eq!(detail["ticket_types"][0]["capacity"], 50);
    let net = detail["net"].as_i64().unwrap();
    assert!(net > 0);
    assert_eq!(detail["host_net"], net * 3000 / 10_000);
    // The venue's and the artist's companies see tickets, not money.
    let venue_company = kisum.venue_owner.1.clone();
    let venue_view = app
        .get(
            &format!("/network/events/{}", ev.event_id),
            &as_company(&venue_company),
        )
        .await
        .expect(200);
    assert_eq!(venue_view["event"]["roles"], json!(["venue"]));
    assert_eq!(venue_view["tickets_sold"], 2);
    assert!(venue_view["net"].is_null());
    assert_eq!(venue_view["by_day"][0]["tickets"], 2);
    assert!(venue_view["by_day"][0]["gross"].is_null());
    let artist_view = app
        .get("/network/events", &as_company(&kisum.artist_owner))
        .await
        .expect(200);
    assert_eq!(artist_view["items"][0]["roles"], json!(["artist"]));
    // Anyone else sees nothing.
    let stranger = app
        .get("/network/events", &as_company("someone-else"))
        .await
        .expect(200);
    assert_eq!(stranger["items"], json!([]));
    app.get(
        &format!("/network/events/{}", ev.event_id),
        &as_company("someone-else"),
    )
    .await
    .expect_problem(404, "not_found");
    app.get(
        "/network/events",
        &Auth::Headers(vec![("x-org".into(), "promoter-co".into())]),
    )
    .await
    .expect_problem(401, "missing_credentials");
    app.get(
        "/network/events",
        &Auth::Headers(vec![
            ("x-internal-api-key".into(), "wrong-key-wrong-key".into()),
            ("x-org".into(), "promoter-co".into()),
        ]),
    )
    .await
    .expect_problem(401, "invalid_credentials");
    app.get(
        "/network/events",
        &Auth::Headers(vec![(
            "x-internal-api-key".into(),
            crate::helpers::INTERNAL_KEY.into(),
        )]),
    )
    .await
    .expect_problem(400, "x_org_required");
}

mod network {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        kisum_sees_the_events_that_involve_each_company(Backend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        kisum_sees_the_events_that_involve_each_company(Backend::Postgres).await
    }
}
