//! One `spawn_app` for every test: the real server on a random port, against a fresh
//! database (a new SQLite file, or a new PostgreSQL database under
//! `NEXTKT_TEST_DATABASE_URL`, the server the whole workspace's tests use), with a clock the
//! test moves by hand and background jobs off (tests run the sweeper themselves).

use std::sync::Arc;

use kisum::Application;
use kisum::platform::clock::ManualClock;
use kisum::platform::config::ServeConfig;
use reqwest::Method;
use serde_json::{Value, json};

pub use service::testkit::{Backend, Resp, TestDatabase};

pub const INTERNAL_KEY: &str = "kisum-test-internal-key-0123";

#[macro_export]
macro_rules! on_both_databases {
    ($($test:ident),* $(,)?) => {
        service::on_both_databases_with!($crate::helpers::spawn_app; $($test),*);
    };
}

pub struct TestApp {
    pub base: String,
    pub database_url: String,
    pub client: reqwest::Client,
    pub state: kisum::AppState,
    pub clock: Arc<ManualClock>,
    /// Where emails land as .eml files.
    pub mail_dir: Arc<tempfile::TempDir>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    database: Arc<TestDatabase>,
}

fn test_config() -> ServeConfig {
    let mut config = ServeConfig::defaults();
    config.auth_rate_per_ip = 10_000;
    config.auth_rate_per_account = 10_000;
    config
}

/// A second `kisum` process (server) on the same database as `app`, with its own caches.
pub async fn second_process(app: &TestApp) -> TestApp {
    let mut config = test_config();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.database.database_url = app.database_url.clone();
    config.database.db_max_connections = 8;
    config.internal_api_key = Some(INTERNAL_KEY.to_string());
    config.no_jobs = true;
    config.mail_dir = app.mail_dir.path().display().to_string();
    let app2 = Application::build_with_clock(config, app.clock.clone())
        .await
        .expect("second server builds");
    let base = format!("http://{}", app2.local_addr());
    let state = app2.state().clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app2.run(async move {
        let _ = rx.await;
    }));
    TestApp {
        base,
        database_url: app.database_url.clone(),
        client: reqwest::Client::new(),
        state,
        clock: app.clock.clone(),
        mail_dir: app.mail_dir.clone(),
        _shutdown: tx,
        database: app.database.clone(),
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut ServeConfig)) -> TestApp {
    service::http::install_crypto_provider();
    let (url, database) =
        service::testkit::fresh_database(backend, "kisum", "NEXTKT_TEST_DATABASE_URL").await;
    let mut config = test_config();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.database.database_url = url.clone();
    config.database.db_max_connections = 8;
    config.internal_api_key = Some(INTERNAL_KEY.to_string());
    config.no_jobs = true;
    let mail_dir = Arc::new(tempfile::tempdir().expect("mail dir"));
    config.mail_dir = mail_dir.path().display().to_string();
    adjust(&mut config);
    let clock = ManualClock::starting_now();
    let app = Application::build_with_clock(config, clock.clone())
        .await
        .expect("server builds");
    let base = format!("http://{}", app.local_addr());
    let state = app.state().clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run(async move {
        let _ = rx.await;
    }));
    TestApp {
        base,
        database_url: url,
        client: reqwest::Client::new(),
        state,
        clock,
        mail_dir,
        _shutdown: tx,
        database: Arc::new(database),
    }
}

impl TestApp {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        Resp::from(req.send().await.expect("request sent")).await
    }

    /// A machine call with the internal key.
    pub async fn internal(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.call(method, path, &[("x-internal-api-key", INTERNAL_KEY)], body)
            .await
    }

    pub async fn new_company(&self, name: &str) -> String {
        let company = self
            .internal(
                Method::POST,
                "/internal/companies",
                Some(json!({ "name": name })),
            )
            .await
            .expect(201);
        company["id"].as_str().unwrap().to_string()
    }

    pub async fn set_subscription(&self, company: &str, body: Value) -> Resp {
        self.internal(
            Method::PUT,
            &format!("/internal/companies/{company}/subscription"),
            Some(body),
        )
        .await
    }

    pub async fn set_addon(&self, company: &str, addon: &str, body: Value) -> Resp {
        self.internal(
            Method::PUT,
            &format!("/internal/companies/{company}/addons/{addon}"),
            Some(body),
        )
        .await
    }

    pub async fn entitlements(&self, company: &str) -> Value {
        self.internal(
            Method::GET,
            &format!("/internal/companies/{company}/entitlements"),
            None,
        )
        .await
        .expect(200)
    }

    pub async fn sweep(&self) -> usize {
        kisum::core::subscriptions::service::sweep(&self.state)
            .await
            .expect("sweep runs")
    }
}

/// The strings of a JSON array.
pub fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub const PASSWORD: &str = "correct horse battery";

/// A signed-up user and their new company.
pub struct SignedUp {
    pub user_id: String,
    pub company: String,
    pub token: String,
    pub refresh: String,
}

impl TestApp {
    pub async fn signup(&self, email: &str, package: &str, addons: &[&str]) -> SignedUp {
        let body = self
            .call(
                Method::POST,
                "/auth/signup",
                &[],
                Some(json!({
                    "email": email,
                    "password": PASSWORD,
                    "name": "Test Person",
                    "companyName": format!("{email} company"),
                    "package": package,
                    "addons": addons,
                })),
            )
            .await
            .expect(201);
        SignedUp {
            user_id: body["userId"].as_str().unwrap().to_string(),
            company: body["companyId"].as_str().unwrap().to_string(),
            token: body["accessToken"].as_str().unwrap().to_string(),
            refresh: body["refreshToken"].as_str().unwrap().to_string(),
        }
    }

    /// Creates a user (with a throwaway company of their own) and logs them in.
    pub async fn user(&self, email: &str) -> SignedUp {
        self.signup(email, "basic_artist", &[]).await
    }

    /// A tenant call: Bearer token and x-org.
    pub async fn as_member(
        &self,
        token: &str,
        company: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Resp {
        let auth = format!("Bearer {token}");
        self.call(
            method,
            path,
            &[("authorization", auth.as_str()), ("x-org", company)],
            body,
        )
        .await
    }

    pub async fn access(&self, token: &str, company: &str) -> Resp {
        self.as_member(token, company, Method::GET, "/auth/me/access", None)
            .await
    }
}

impl TestApp {
    /// Delivers the queued emails and answers the code (`Or use this code: ...`) of the
    /// newest one sent to `to`.
    pub async fn emailed_code(&self, to: &str) -> String {
        kisum::auth::mail::deliver_once(&self.state)
            .await
            .expect("emails deliver");
        let mut found: Vec<(std::time::SystemTime, String)> = Vec::new();
        for entry in std::fs::read_dir(self.mail_dir.path()).expect("mail dir") {
            let entry = entry.unwrap();
            let text = std::fs::read_to_string(entry.path()).unwrap();
            if text.contains(&format!("To: {to}")) {
                found.push((entry.metadata().unwrap().modified().unwrap(), text));
            }
        }
        found.sort_by_key(|(t, _)| *t);
        let (_, text) = found.last().unwrap_or_else(|| panic!("no email to {to}"));
        let text = text.replace("=\r\n", "").replace("\r\n", "\n");
        text.lines()
            .find_map(|l| l.strip_prefix("Or use this code: "))
            .unwrap_or_else(|| panic!("no code in {text}"))
            .trim()
            .to_string()
    }
}

impl TestApp {
    /// A tenant call as a signed-up user in their own company.
    pub async fn by(
        &self,
        who: &SignedUp,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Resp {
        self.as_member(&who.token, &who.company, method, path, body)
            .await
    }
}
