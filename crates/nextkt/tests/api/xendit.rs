//! The Xendit provider against a local stand-in that speaks Xendit's documented request and
//! callback shapes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};

use tokio_rustls::rustls;

use crate::helpers::{Auth, Resp, TestApp, spawn_app_with};
use crate::on_both_databases;

on_both_databases!(
    xendit_invoices_callbacks_and_refunds,
    xendit_over_https_with_a_trusted_ca,
    xendit_behind_an_untrusted_certificate_is_unavailable,
);

const SECRET: &str = "xnd_development_stand_in";
const CALLBACK_TOKEN: &str = "stand-in-callback-token";

#[derive(Default)]
struct StandIn {
    invoices: HashMap<String, Value>,
    refunds: Vec<Value>,
}

type Shared = Arc<Mutex<StandIn>>;

fn authorised(headers: &HeaderMap) -> bool {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SECRET}:"))
    );
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

async fn create_invoice(
    State(s): State<Shared>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> (StatusCode, axum::Json<Value>) {
    if !authorised(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "error_code": "INVALID_API_KEY" })),
        );
    }
    let mut s = s.lock().unwrap();
    let id = format!("inv_{}", s.invoices.len() + 1);
    let invoice = json!({
        "id": id, "external_id": body["external_id"], "amount": body["amount"], "currency": body["currency"],
        "payer_email": body["payer_email"], "status": "PENDING",
        "invoice_url": format!("https://checkout-staging.xendit.co/web/{id}"),
        "invoice_duration": body["invoice_duration"],
        "success_redirect_url": body["success_redirect_url"],
        "failure_redirect_url": body["failure_redirect_url"],
    });
    s.invoices.insert(id, invoice.clone());
    (StatusCode::OK, axum::Json(invoice))
}

async fn get_invoice(
    State(s): State<Shared>,
    Path(id): Path<String>,
) -> (StatusCode, axum::Json<Value>) {
    match s.lock().unwrap().invoices.get(&id) {
        Some(invoice) => (StatusCode::OK, axum::Json(invoice.clone())),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "error_code": "INVOICE_NOT_FOUND_ERROR" })),
        ),
    }
}

async fn create_refund(
    State(s): State<Shared>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> (StatusCode, axum::Json<Value>) {
    if !authorised(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "error_code": "INVALID_API_KEY" })),
        );
    }
    let mut s = s.lock().unwrap();
    let refund = json!({ "id": format!("rfd_{}", s.refunds.len() + 1), "invoice_id": body["invoice_id"],
        "amount": body["amount"], "reference_id": body["reference_id"], "status": "PENDING" });
    s.refunds.push(refund.clone());
    (StatusCode::OK, axum::Json(refund))
}

fn stand_in_routes() -> (axum::Router, Shared) {
    let shared: Shared = Arc::default();
    let app = axum::Router::new()
        .route("/v2/invoices", post(create_invoice))
        .route("/v2/invoices/{id}", get(get_invoice))
        .route("/refunds", post(create_refund))
        .with_state(shared.clone());
    (app, shared)
}

async fn stand_in() -> (String, Shared) {
    let (app, shared) = stand_in_routes();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, shared)
}

/// A certificate authority made for one test, and the stand-in's server certificate it
/// issued for `127.0.0.1` and `localhost`.
struct TestCa {
    /// The CA certificate, PEM.
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

fn test_ca() -> TestCa {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Nextkt test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_cert =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap()
            .signed_by(&server_key, &ca)
            .unwrap();
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![server_cert.der().clone(), ca.der().clone()],
        rustls::pki_types::PrivatePkcs8KeyDer::from(server_key.serialize_der()).into(),
    )
    .unwrap();
    TestCa {
        ca_pem: ca.pem(),
        server: Arc::new(server),
    }
}

/// Accepts TCP connections and completes the TLS handshake; a client that refuses the
/// certificate ends its handshake and the listener waits for the next one.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// The stand-in served over HTTPS with a certificate from `ca`.
async fn stand_in_tls(ca: &TestCa) -> (String, Shared) {
    let (app, shared) = stand_in_routes();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", tcp.local_addr().unwrap());
    let listener = TlsListener {
        tcp,
        acceptor: tokio_rustls::TlsAcceptor::from(ca.server.clone()),
    };
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, shared)
}

async fn xendit_app(app: TestApp, url: String, extra_ca_file: Option<PathBuf>) -> TestApp {
    spawn_app_with(app.backend, move |c| {
        c.payment_provider = nextkt::platform::config::PaymentProvider::Xendit;
        c.xendit_base_url = url;
        c.xendit_secret_key = Some(SECRET.into());
        c.xendit_callback_token = Some(CALLBACK_TOKEN.into());
        c.extra_ca_file = extra_ca_file;
    })
    .await
}

/// A cart holding two GA tickets.
async fn cart_of_two(app: &TestApp) -> Auth {
    let owner = app.signup("owner@example.com").await;
    let ev = app
        .ga_event(&owner, 5, json!({}), json!({ "price": 250000 }))
        .await;
    let added = app
        .add_to_cart(
            &owner.org_id,
            None,
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": 2 }),
        )
        .await
        .expect(201);
    TestApp::cart_auth(&owner.org_id, added["cart_token"].as_str().unwrap())
}

async fn checkout(app: &TestApp, cart: &Auth) -> Resp {
    app.post(
        "/consumer/checkout",
        cart,
        json!({ "email": "budi@example.com", "name": "Budi", "return_url": "https://shop.example.com/thanks" }),
    )
    .await
}

async fn callback(app: &TestApp, token: &str, body: Value) -> Resp {
    app.call_with(
        reqwest::Method::POST,
        "/webhooks/xendit",
        &Auth::None,
        Some(body),
        &[("x-callback-token", token)],
    )
    .await
}

async fn xendit_invoices_callbacks_and_refunds(app: TestApp) {
    let (url, shared) = stand_in().await;
    let app = xendit_app(app, url, None).await;
    let owner = app.signup("owner@example.com").await;
    let ev = app
        .ga_event(&owner, 5, json!({}), json!({ "price": 250000 }))
        .await;
    let added = app
        .add_to_cart(
            &owner.org_id,
            None,
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": 2 }),
        )
        .await
        .expect(201);
    let cart = TestApp::cart_auth(&owner.org_id, added["cart_token"].as_str().unwrap());
    let checkout = app
        .post(
            "/consumer/checkout",
            &cart,
            json!({ "email": "budi@example.com", "name": "Budi" }),
        )
        .await
        .expect(201);
    let order = &checkout["order"];
    let payment = &order["payments"][0];
    assert_eq!(payment["provider"], "xendit");
    assert!(
        checkout["payment_url"]
            .as_str()
            .unwrap()
            .starts_with("https://checkout-staging.xendit.co/web/inv_")
    );
    let invoice = shared
        .lock()
        .unwrap()
        .invoices
        .get("inv_1")
        .cloned()
        .expect("an invoice at Xendit");
    assert_eq!(invoice["external_id"], payment["id"]);
    assert_eq!(invoice["amount"], order["total"]);
    assert_eq!(invoice["payer_email"], "budi@example.com");
    assert!(invoice["invoice_duration"].as_i64().unwrap() >= 60);
    // Without a return URL the buyer comes back to the payment's page on this server.
    let back = format!("/pay/{}", payment["id"].as_str().unwrap());
    for field in ["success_redirect_url", "failure_redirect_url"] {
        assert!(
            invoice[field].as_str().unwrap().ends_with(&back),
            "{invoice}"
        );
    }

    // Xendit's invoice callback.
    let paid = json!({
        "id": "inv_1", "external_id": payment["id"], "status": "PAID", "amount": order["total"],
        "paid_amount": order["total"], "currency": "IDR", "paid_at": "2026-11-26T07:00:00.000Z",
        "payment_method": "BANK_TRANSFER", "payment_channel": "BCA"
    });
    callback(&app, "wrong", paid.clone())
        .await
        .expect_problem(401, "invalid_callback_token");
    assert_eq!(app.count("tickets").await, 0);
    assert_eq!(
        callback(&app, CALLBACK_TOKEN, paid.clone())
            .await
            .expect(200)["outcome"],
        "paid"
    );
    assert_eq!(
        callback(&app, CALLBACK_TOKEN, paid.clone())
            .await
            .expect(200)["outcome"],
        "duplicate"
    );
    let mut settled = paid.clone();
    settled["status"] = json!("SETTLED");
    assert_eq!(
        callback(&app, CALLBACK_TOKEN, settled).await.expect(200)["outcome"],
        "duplicate"
    );
    assert_eq!(app.count("tickets").await, 2);
    let mut unknown = paid.clone();
    unknown["id"] = json!("inv_404");
    callback(&app, CALLBACK_TOKEN, unknown)
        .await
        .expect_problem(404, "not_found");

    // A refund goes to Xendit, is pending there, and completes on its callback.
    let order_id = order["id"].as_str().unwrap();
    let refund = app
        .post(
            &format!("/admin/orders/{order_id}/refunds"),
            &Auth::bearer(&owner.token),
            json!({}),
        )
        .await
        .expect(201);
    let refund_id = refund["id"].as_str().unwrap().to_string();
    let status = |app: &TestApp, id: String| {
        let pool = app.state.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT status FROM refunds WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    for _ in 0..50 {
        if status(&app, refund_id.clone()).await == "pending" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status(&app, refund_id.clone()).await, "pending");
    let sent = shared
        .lock()
        .unwrap()
        .refunds
        .first()
        .cloned()
        .expect("a refund at Xendit");
    assert_eq!(sent["invoice_id"], "inv_1");
    assert_eq!(sent["amount"], order["total"]);
    assert_eq!(sent["reference_id"], refund_id.as_str());
    let done = json!({ "event": "refund.succeeded", "business_id": "b1", "created": "2026-11-26T07:05:00.000Z",
        "data": { "id": "rfd_1", "invoice_id": "inv_1", "status": "SUCCEEDED", "amount": order["total"] } });
    assert_eq!(
        callback(&app, CALLBACK_TOKEN, done.clone())
            .await
            .expect(200)["outcome"],
        "refund_succeeded"
    );
    assert_eq!(
        callback(&app, CALLBACK_TOKEN, done).await.expect(200)["outcome"],
        "duplicate"
    );
    assert_eq!(status(&app, refund_id).await, "succeeded");
    let audit = app.audit(&owner).await;
    crate::helpers::assert_exact(&audit);
}

async fn xendit_over_https_with_a_trusted_ca(app: TestApp) {
    let ca = test_ca();
    let (url, shared) = stand_in_tls(&ca).await;
    assert!(url.starts_with("https://"));
    let ca_dir = tempfile::tempdir().unwrap();
    let ca_file = ca_dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    let app = xendit_app(app, url, Some(ca_file)).await;

    let cart = cart_of_two(&app).await;
    let checkout = checkout(&app, &cart).await.expect(201);
    let order = &checkout["order"];
    let payment = &order["payments"][0];
    assert_eq!(payment["provider"], "xendit");
    let invoice = shared
        .lock()
        .unwrap()
        .invoices
        .get("inv_1")
        .cloned()
        .expect("an invoice at Xendit, made over HTTPS");
    assert_eq!(invoice["external_id"], payment["id"]);
    assert_eq!(invoice["amount"], order["total"]);
    assert_eq!(checkout["payment_url"], invoice["invoice_url"]);
    // Xendit sends the buyer back to the storefront's page, paid or not.
    assert_eq!(
        invoice["success_redirect_url"],
        "https://shop.example.com/thanks"
    );
    assert_eq!(
        invoice["failure_redirect_url"],
        "https://shop.example.com/thanks"
    );

    let paid = json!({
        "id": "inv_1", "external_id": payment["id"], "status": "PAID", "amount": order["total"],
        "paid_amount": order["total"], "currency": "IDR", "paid_at": "2026-11-26T07:00:00.000Z",
        "payment_method": "BANK_TRANSFER", "payment_channel": "BCA"
    });
    assert_eq!(
        callback(&app, CALLBACK_TOKEN, paid).await.expect(200)["outcome"],
        "paid"
    );
    assert_eq!(app.count("tickets").await, 2);
}

async fn xendit_behind_an_untrusted_certificate_is_unavailable(app: TestApp) {
    let ca = test_ca();
    let (url, shared) = stand_in_tls(&ca).await;
    // The server trusts only the built-in roots, and the stand-in's CA is not one of them.
    let app = xendit_app(app, url.clone(), None).await;

    let cart = cart_of_two(&app).await;
    let problem = checkout(&app, &cart)
        .await
        .expect_problem(503, "payment_provider_unavailable");
    let detail = problem["detail"].as_str().unwrap();
    let port = url.rsplit(':').next().unwrap();
    for internal in [url.as_str(), "127.0.0.1", port, "https://", "/v2/invoices"] {
        assert!(
            !detail.contains(internal),
            "the detail names no internal address ({internal}): {detail}"
        );
    }
    assert!(shared.lock().unwrap().invoices.is_empty());
    assert_eq!(app.count("orders").await, 0);
    assert_eq!(app.count("payments").await, 0);
    // The cart and its holds are kept: trying again meets the same answer, not an empty cart.
    checkout(&app, &cart)
        .await
        .expect_problem(503, "payment_provider_unavailable");
}
