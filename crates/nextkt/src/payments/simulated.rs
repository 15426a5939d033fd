//! The simulated provider's hosted pay page: `GET /pay/{payment_id}` shows the amount with
//! "Pay" and "Fail" buttons; pressing one posts back here, and the server then calls
//! `/webhooks/simulated` over HTTP exactly as a provider would, with the callback token.
//! These are the routes; the payment and the callback come from the service.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::SIMULATED;
use super::service::{self, Decision};
use super::status::PaymentStatus;
use crate::platform::error::{ApiError, ApiResult};
use crate::state::AppState;

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A payment's page: the simulated provider's hosted pay page ("Pay" / "Fail"), and for
/// every provider the page a buyer returns to when the storefront gave no return URL; once
/// the payment is decided it links back to the storefront's return URL.
#[utoipa::path(
    get, path = "/pay/{payment_id}", tag = "payments",
    params(("payment_id" = String, Path)),
    responses((status = 200, description = "The pay page (text/html)"), (status = 404, body = crate::platform::error::Problem))
)]
pub async fn page(
    State(state): State<AppState>,
    Path(payment_id): Path<String>,
) -> ApiResult<Html<String>> {
    let payment = service::payment(&state.db, &payment_id).await?;
    let simulated = payment.provider == SIMULATED;
    let pending = payment.status == PaymentStatus::Pending;
    let actions = if simulated && pending {
        format!(
            "<form method=\"post\" action=\"/pay/{id}\"><button name=\"outcome\" value=\"paid\" id=\"pay\">Pay {amount} {currency}</button> \
             <button name=\"outcome\" value=\"failed\" id=\"fail\" class=\"fail\">Fail the payment</button></form>",
            id = esc(&payment.id),
            amount = payment.amount,
            currency = esc(&payment.currency),
        )
    } else {
        String::new()
    };
    // Back to the storefront once the payment is decided (its return URL, when it gave one).
    let back = match &payment.return_url {
        Some(url) if !pending && !url.ends_with(&format!("/pay/{}", payment.id)) => {
            format!(
                "<p><a id=\"back\" href=\"{}\">Back to the shop</a></p>",
                esc(url)
            )
        }
        _ => String::new(),
    };
    let (title, notice) = if simulated {
        (
            "Simulated payment",
            "<p>Test payments only: no money moves.</p>",
        )
    } else {
        ("Payment", "")
    };
    Ok(Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
         <style>body{{font:16px system-ui,sans-serif;max-width:420px;margin:2em auto;padding:0 1em}}\
         button{{font-size:1em;padding:.6em 1em;margin:.3em 0}} .fail{{background:#fde2e2}}</style></head>\
         <body><h1>{title}</h1>{notice}\
         <p>Amount: <b>{amount} {currency}</b></p><p>Status: <b id=\"status\">{status}</b></p>{actions}{back}</body></html>",
        amount = payment.amount,
        currency = esc(&payment.currency),
        status = esc(payment.status.as_str()),
    )))
}

#[derive(Debug, Deserialize)]
pub struct Outcome {
    pub outcome: String,
    /// How many times the provider delivers the callback (1–3): real providers sometimes
    /// deliver an event twice; this lets a test or benchmark make it happen.
    pub deliveries: Option<u8>,
}

/// Pay or fail a simulated payment; the provider then calls the webhook.
#[utoipa::path(
    post, path = "/pay/{payment_id}", tag = "payments",
    params(("payment_id" = String, Path)),
    responses((status = 303, description = "Back to the pay page"), (status = 404, body = crate::platform::error::Problem))
)]
pub async fn decide(
    State(state): State<AppState>,
    Path(payment_id): Path<String>,
    form: Result<Form<Outcome>, axum::extract::rejection::FormRejection>,
) -> ApiResult<Response> {
    let Form(form) = form.map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!(
                "send outcome=paid or outcome=failed as a form: {}",
                e.body_text()
            ),
        )
    })?;
    let payment = service::simulated_payment(&state.db, &payment_id).await?;
    let decision = match form.outcome.as_str() {
        "paid" => Decision::Pay,
        "failed" => Decision::Fail,
        _ => return Err(ApiError::invalid("outcome", "must be paid or failed")),
    };
    service::simulate_decision(&state, &payment, decision).await?;
    Ok(Redirect::to(&format!("/pay/{}", payment.id)).into_response())
}
