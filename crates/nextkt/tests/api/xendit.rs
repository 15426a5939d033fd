//! The Xendit provider against a local stand-in that speaks Xendit's documented request and
//! callback shapes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};

use crate::helpers::{Auth, TestApp, spawn_app_with};
use crate::on_both_databases;

on_both_databases!(xendit_invoices_callbacks_and_refunds);

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

async fn stand_in() -> (String, Shared) {
    let shared: Shared = Arc::default();
    let app = axum::Router::new()
        .route("/v2/invoices", post(create_invoice))
        .route("/v2/invoices/{id}", get(get_invoice))
        .route("/refunds", post(create_refund))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, shared)
}

async fn callback(app: &TestApp, token: &str, body: Value) -> crate::helpers::Resp {
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
    let app = spawn_app_with(app.backend, move |c| {
        c.payment_provider = nextkt::platform::config::PaymentProvider::Xendit;
        c.xendit_base_url = url;
        c.xendit_secret_key = Some(SECRET.into());
        c.xendit_callback_token = Some(CALLBACK_TOKEN.into());
    })
    .await;
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
