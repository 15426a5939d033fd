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
    pub client: reqwest::Client,
    pub state: kisum::AppState,
    pub clock: Arc<ManualClock>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    _database: Arc<TestDatabase>,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut ServeConfig)) -> TestApp {
    service::http::install_crypto_provider();
    let (url, database) =
        service::testkit::fresh_database(backend, "kisum", "NEXTKT_TEST_DATABASE_URL").await;
    let mut config = ServeConfig::defaults();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.database.database_url = url;
    config.database.db_max_connections = 8;
    config.internal_api_key = Some(INTERNAL_KEY.to_string());
    config.no_jobs = true;
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
        client: reqwest::Client::new(),
        state,
        clock,
        _shutdown: tx,
        _database: Arc::new(database),
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
