//! Mode A: Kisum provisions a company's Nextkt organization as its partner and keeps the
//! organization's key sealed; relinking is idempotent, rotation and unlinking revoke keys
//! in Nextkt. Each test runs on SQLite and on PostgreSQL (both services on the same engine).

use reqwest::Method;
use serde_json::{Value, json};
use service::testkit::{Backend, TestDatabase, fresh_database};

const SECRETS_KEY: &str = "8f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c";
const PASSWORD: &str = "a long enough password";

struct Running {
    base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
    _database: TestDatabase,
}

struct Both {
    nextkt: Running,
    kisum: Running,
    kisum_state: kisum::AppState,
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
    // Kisum, driving Nextkt with that partner key.
    let (url, database) = fresh_database(backend, "kisum", "NEXTKT_TEST_DATABASE_URL").await;
    let mut config = kisum::platform::config::ServeConfig::defaults();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.database.database_url = url;
    config.database.db_max_connections = 4;
    config.no_jobs = true;
    config.auth_rate_per_ip = 10_000;
    if link_to_nextkt {
        config.nextkt_url = Some(nextkt_base);
        config.nextkt_partner_key = Some(partner_key);
        config.secrets_key = Some(SECRETS_KEY.into());
    }
    let app = kisum::Application::build(config)
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
        let mut req = self.client.request(method, url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("sent");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
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
    without_nextkt_linking_is_said_plainly
);
