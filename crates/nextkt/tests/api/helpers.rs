//! One `spawn_app` for every test: the real server on a random port, against a fresh
//! database (a new SQLite file, or a new PostgreSQL database under
//! `NEXTKT_TEST_DATABASE_URL`), with a clock the test moves by hand.

use std::sync::Arc;

use nextkt::Application;
use nextkt::platform::clock::ManualClock;
use nextkt::platform::config::ServeConfig;
use reqwest::Method;
use serde_json::{Value, json};

pub const INTERNAL_KEY: &str = "test-internal-key-0123456789";

pub use service::testkit::{Backend, Resp, TestDatabase};

/// Runs a test body once on SQLite and once on PostgreSQL, as `name::sqlite` and
/// `name::postgres`.
#[macro_export]
macro_rules! on_both_databases {
    ($($test:ident),* $(,)?) => {
        service::on_both_databases_with!($crate::helpers::spawn_app; $($test),*);
    };
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: nextkt::AppState,
    pub clock: Arc<ManualClock>,
    pub backend: Backend,
    /// Where emails land as .eml files (no SMTP server unless a test sets one).
    pub mail_dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    _database: TestDatabase,
}

pub async fn fresh_database(backend: Backend) -> (String, TestDatabase) {
    service::testkit::fresh_database(backend, "nextkt", "NEXTKT_TEST_DATABASE_URL").await
}

pub fn test_config(database_url: String) -> ServeConfig {
    let mut config = ServeConfig::defaults();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.database.database_url = database_url;
    config.database.db_max_connections = 8;
    config.internal_api_key = Some(INTERNAL_KEY.to_string());
    config.auth_rate_per_ip = 10_000;
    config.auth_rate_per_account = 10_000;
    config
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut ServeConfig)) -> TestApp {
    // The tests' own clients are plain reqwest ones; they need rustls' crypto provider too.
    nextkt::platform::http::install_crypto_provider();
    let (url, database) = fresh_database(backend).await;
    let mail_dir = tempfile::tempdir().expect("mail dir");
    let mut config = test_config(url);
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
        client: reqwest::Client::new(),
        state,
        clock,
        backend,
        mail_dir,
        _shutdown: tx,
        _database: database,
    }
}

/// How a request authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Bearer(String),
    /// The platform internal key with `x-tenant`.
    Internal(String),
    /// Any headers, as given.
    Headers(Vec<(String, String)>),
}

impl Auth {
    pub fn bearer(token: &str) -> Auth {
        Auth::Bearer(token.to_string())
    }

    fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::None => req,
            Auth::Bearer(token) => req.bearer_auth(token),
            Auth::Internal(org) => req
                .header("x-internal-api-key", INTERNAL_KEY)
                .header("x-tenant", org),
            Auth::Headers(headers) => headers.iter().fold(req, |r, (k, v)| r.header(k, v)),
        }
    }

    /// Internal key + tenant, with a buyer token riding along.
    /// A logged-in buyer at the storefront (internal key), with a cart when given.
    pub fn buyer_cart(org_id: &str, buyer_token: &str, cart: Option<&str>) -> Auth {
        let mut h = vec![
            ("x-internal-api-key".to_string(), INTERNAL_KEY.to_string()),
            ("x-tenant".to_string(), org_id.to_string()),
            ("authorization".to_string(), format!("Bearer {buyer_token}")),
        ];
        if let Some(c) = cart {
            h.push(("x-cart-token".into(), c.into()));
        }
        Auth::Headers(h)
    }

    pub fn buyer(org_id: &str, buyer_token: &str) -> Auth {
        Auth::Headers(vec![
            ("x-internal-api-key".into(), INTERNAL_KEY.into()),
            ("x-tenant".into(), org_id.into()),
            ("authorization".into(), format!("Bearer {buyer_token}")),
        ])
    }
}

pub struct Operator {
    pub operator_id: String,
    pub org_id: String,
    pub token: String,
    pub refresh_token: String,
    pub email: String,
}

impl TestApp {
    pub async fn call(&self, method: Method, path: &str, auth: &Auth, body: Option<Value>) -> Resp {
        self.call_with(method, path, auth, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Resp {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        req = auth.apply(req);
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        Resp::from(req.send().await.expect("request sent")).await
    }

    /// Sends every body to `path` at once (each on its own task), for races; the answers
    /// in the order of `bodies`.
    pub async fn post_all(&self, path: &str, auth: &Auth, bodies: Vec<Value>) -> Vec<Resp> {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, body) in bodies.into_iter().enumerate() {
            let req = auth.apply(self.client.post(format!("{}{path}", self.base)));
            tasks.spawn(async move {
                (
                    i,
                    Resp::from(req.json(&body).send().await.expect("request sent")).await,
                )
            });
        }
        let mut answers = tasks.join_all().await;
        answers.sort_by_key(|(i, _)| *i);
        answers.into_iter().map(|(_, r)| r).collect()
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> Resp {
        self.call(Method::GET, path, auth, None).await
    }

    pub async fn post(&self, path: &str, auth: &Auth, body: Value) -> Resp {
        self.call(Method::POST, path, auth, Some(body)).await
    }

    /// POSTs a non-JSON body (e.g. `text/csv`).
    pub async fn post_text(&self, path: &str, auth: &Auth, content_type: &str, text: &str) -> Resp {
        let mut req = self.client.post(format!("{}{path}", self.base));
        req = auth.apply(req);
        let sent = req
            .header("content-type", content_type)
            .body(text.to_string())
            .send()
            .await;
        Resp::from(sent.expect("request sent")).await
    }

    /// Sends `body` byte for byte (no JSON encoding) with `content_type`.
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        content_type: &str,
        body: Vec<u8>,
    ) -> Resp {
        let req = auth
            .apply(self.client.request(method, format!("{}{path}", self.base)))
            .header("content-type", content_type)
            .body(body);
        Resp::from(req.send().await.expect("request sent")).await
    }

    pub async fn patch(&self, path: &str, auth: &Auth, body: Value) -> Resp {
        self.call(Method::PATCH, path, auth, Some(body)).await
    }

    pub async fn delete(&self, path: &str, auth: &Auth) -> Resp {
        self.call(Method::DELETE, path, auth, None).await
    }

    /// Signs up a new operator with a new organization.
    pub async fn signup(&self, email: &str) -> Operator {
        let body = self
            .post(
                "/admin/auth/signup",
                &Auth::None,
                json!({
                    "email": email,
                    "password": "correct horse battery",
                    "name": "Test Operator",
                    "organization_name": format!("Org of {email}"),
                }),
            )
            .await
            .expect(201);
        Operator {
            operator_id: body["operator"]["id"].as_str().unwrap().to_string(),
            org_id: body["organization"]["id"].as_str().unwrap().to_string(),
            token: body["tokens"]["access_token"].as_str().unwrap().to_string(),
            refresh_token: body["tokens"]["refresh_token"]
                .as_str()
                .unwrap()
                .to_string(),
            email: email.to_string(),
        }
    }

    /// Creates an API key with `role` in the operator's organization; returns (id, secret).
    pub async fn api_key(&self, owner: &Operator, role: &str) -> (String, String) {
        let body = self
            .post(
                "/admin/api-keys",
                &Auth::bearer(&owner.token),
                json!({ "name": format!("{role} key"), "role": role }),
            )
            .await
            .expect(201);
        (
            body["id"].as_str().unwrap().to_string(),
            body["secret"].as_str().unwrap().to_string(),
        )
    }

    /// A new partner, as `nextkt partner create` makes one; returns its key.
    pub async fn partner(&self, name: &str) -> String {
        let (_, key) = nextkt::tenancy::partners::create(&self.state.db, name, 0)
            .await
            .expect("partner created");
        key
    }

    /// Registers a buyer at the organization's storefront; returns (buyer id, access, refresh).
    pub async fn buyer(&self, org_id: &str, email: &str) -> (String, String, String) {
        let body = self
            .post(
                "/consumer/auth/register",
                &Auth::Internal(org_id.to_string()),
                json!({ "email": email, "password": "buyer password 1", "name": "Budi" }),
            )
            .await
            .expect(201);
        (
            body["buyer"]["id"].as_str().unwrap().to_string(),
            body["tokens"]["access_token"].as_str().unwrap().to_string(),
            body["tokens"]["refresh_token"]
                .as_str()
                .unwrap()
                .to_string(),
        )
    }

    /// The newest email of `template` to `to` in the outbox: its payload.
    pub async fn last_email(&self, template: &str, to: &str) -> Value {
        let payload: String = sqlx::query_scalar(
            "SELECT payload_json FROM outbox WHERE template = $1 AND to_address = $2 \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(template.to_string())
        .bind(to.to_string())
        .fetch_one(&self.state.db.pool)
        .await
        .expect("an email in the outbox");
        serde_json::from_str(&payload).unwrap()
    }

    /// Rows in a table, to check that a refused request wrote nothing.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(&self.state.db.pool)
            .await
            .expect("count")
    }
}

/// An event with one general-admission ticket type, published.
pub struct GaEvent {
    pub event_id: String,
    pub ticket_type_id: String,
}

impl TestApp {
    /// Creates and publishes an event with one GA ticket type of `capacity`; `event` and
    /// `ticket_type` add or override fields of the defaults.
    pub async fn ga_event(
        &self,
        owner: &Operator,
        capacity: i64,
        event: Value,
        ticket_type: Value,
    ) -> GaEvent {
        let auth = Auth::bearer(&owner.token);
        let mut body = json!({
            "title": { "en": "Java Jazz", "id": "Java Jazz" },
            "starts_at": "2030-03-01T19:00:00+07:00",
            "ends_at": "2030-03-01T23:00:00+07:00",
            "venue": { "name": "JIExpo", "city": "Jakarta" },
        });
        merge(&mut body, event);
        let event = self.post("/admin/events", &auth, body).await.expect(201);
        let event_id = event["id"].as_str().unwrap().to_string();
        let mut tt = json!({ "name": "GA", "price": 500000, "capacity": capacity });
        merge(&mut tt, ticket_type);
        let tt = self
            .post(&format!("/admin/events/{event_id}/ticket-types"), &auth, tt)
            .await
            .expect(201);
        self.post(
            &format!("/admin/events/{event_id}/publish"),
            &auth,
            json!({}),
        )
        .await
        .expect(200);
        GaEvent {
            event_id,
            ticket_type_id: tt["id"].as_str().unwrap().to_string(),
        }
    }

    /// A published GA event made with an API key (for organizations without operators).
    pub async fn ga_event_with_key(&self, key: &Auth, capacity: i64, price: i64) -> GaEvent {
        let event = self
            .post(
                "/admin/events",
                key,
                json!({ "title": { "en": "Show" }, "starts_at": "2030-03-01T19:00:00Z", "ends_at": "2030-03-01T23:00:00Z" }),
            )
            .await
            .expect(201);
        let event_id = event["id"].as_str().unwrap().to_string();
        let tt = self
            .post(
                &format!("/admin/events/{event_id}/ticket-types"),
                key,
                json!({ "name": "GA", "price": price, "capacity": capacity }),
            )
            .await
            .expect(201);
        self.post(&format!("/admin/events/{event_id}/publish"), key, json!({}))
            .await
            .expect(200);
        GaEvent {
            event_id,
            ticket_type_id: tt["id"].as_str().unwrap().to_string(),
        }
    }

    /// Adds to a cart as a storefront of `org_id` (internal key); `cart_token` None starts a cart.
    pub async fn add_to_cart(&self, org_id: &str, cart_token: Option<&str>, body: Value) -> Resp {
        let mut headers = vec![
            ("x-internal-api-key".to_string(), INTERNAL_KEY.to_string()),
            ("x-tenant".to_string(), org_id.to_string()),
        ];
        if let Some(token) = cart_token {
            headers.push(("x-cart-token".into(), token.into()));
        }
        self.post("/consumer/cart/items", &Auth::Headers(headers), body)
            .await
    }

    /// An anonymous buyer puts `quantity` of the event's ticket type in a new cart and checks
    /// out as `email` / `name`; the checkout's answer.
    pub async fn checkout_anonymously(
        &self,
        org_id: &str,
        ev: &GaEvent,
        quantity: i64,
        email: &str,
        name: &str,
    ) -> Value {
        let added = self
            .add_to_cart(
                org_id,
                None,
                json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": quantity }),
            )
            .await
            .expect(201);
        let cart = TestApp::cart_auth(org_id, added["cart_token"].as_str().unwrap());
        self.post(
            "/consumer/checkout",
            &cart,
            json!({ "email": email, "name": name }),
        )
        .await
        .expect(201)
    }

    pub fn cart_auth(org_id: &str, cart_token: &str) -> Auth {
        Auth::Headers(vec![
            ("x-internal-api-key".into(), INTERNAL_KEY.into()),
            ("x-tenant".into(), org_id.into()),
            ("x-cart-token".into(), cart_token.into()),
        ])
    }

    /// Delivers the simulated provider's "paid" callback for a payment (as its pay page
    /// would); returns the webhook's outcome.
    pub async fn pay_by_webhook(&self, payment: &Value) -> String {
        let token = nextkt::payments::simulated_callback_token(&self.state.db, 0)
            .await
            .unwrap();
        let event = json!({
            "id": format!("evt-{}", payment["id"].as_str().unwrap()), "type": "payment.paid",
            "payment_id": payment["id"], "amount": payment["amount"], "currency": payment["currency"],
        });
        let answer = self
            .call_with(
                Method::POST,
                "/webhooks/simulated",
                &Auth::None,
                Some(event),
                &[("x-callback-token", token.as_str())],
            )
            .await
            .expect(200);
        answer["outcome"].as_str().unwrap_or_default().to_string()
    }

    /// A ticket's public page as JSON.
    pub async fn ticket_json(&self, code: &str) -> Value {
        self.call_with(
            Method::GET,
            &format!("/t/{code}"),
            &Auth::None,
            None,
            &[("accept", "application/json")],
        )
        .await
        .expect(200)
    }

    /// The organization's inventory audit through the API.
    pub async fn audit(&self, owner: &Operator) -> Value {
        self.get("/admin/inventory/audit", &Auth::bearer(&owner.token))
            .await
            .expect(200)
    }
}

/// An inventory audit with nothing oversold and every counter exact.
#[track_caller]
pub fn assert_exact(audit: &Value) {
    assert_eq!(
        (audit["oversold"].as_i64(), audit["drift"].as_i64()),
        (Some(0), Some(0)),
        "{audit}"
    );
}

pub fn merge(base: &mut Value, extra: Value) {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        for (k, v) in extra {
            base.insert(k, v);
        }
    }
}
