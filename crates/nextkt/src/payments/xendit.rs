//! Xendit: invoices (the hosted payment page), their status, refunds, and callbacks
//! verified by the `x-callback-token` header. Requests follow Xendit's documented shapes
//! (`POST /v2/invoices`, `GET /v2/invoices/{id}`, `POST /refunds`), authenticated with the
//! secret key as the basic-auth user name.

use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Clone)]
pub struct Xendit {
    pub base_url: String,
    pub secret_key: String,
    pub callback_token: String,
}

#[derive(Debug, Deserialize)]
pub struct Invoice {
    pub id: String,
    pub invoice_url: String,
    pub status: String,
}

#[derive(Debug, Deserialize)]
pub struct RefundAnswer {
    pub id: String,
    pub status: String,
}

pub struct NewInvoice<'a> {
    pub external_id: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub payer_email: &'a str,
    pub description: &'a str,
    pub duration_secs: i64,
    pub return_url: &'a str,
}

impl Xendit {
    async fn call(
        &self,
        http: &reqwest::Client,
        req: reqwest::RequestBuilder,
    ) -> anyhow::Result<Value> {
        let _ = http;
        let resp = req.basic_auth(&self.secret_key, Some("")).send().await?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "Xendit answered {status}: {body}");
        Ok(body)
    }

    pub async fn create_invoice(
        &self,
        http: &reqwest::Client,
        new: NewInvoice<'_>,
    ) -> anyhow::Result<Invoice> {
        let body = json!({
            "external_id": new.external_id,
            "amount": new.amount,
            "currency": new.currency,
            "payer_email": new.payer_email,
            "description": new.description,
            "invoice_duration": new.duration_secs.max(60),
            "success_redirect_url": new.return_url,
            "failure_redirect_url": new.return_url,
        });
        let answer = self
            .call(
                http,
                http.post(format!("{}/v2/invoices", self.base_url))
                    .json(&body),
            )
            .await?;
        Ok(serde_json::from_value(answer)?)
    }

    pub async fn invoice(&self, http: &reqwest::Client, id: &str) -> anyhow::Result<Invoice> {
        let answer = self
            .call(
                http,
                http.get(format!("{}/v2/invoices/{id}", self.base_url)),
            )
            .await?;
        Ok(serde_json::from_value(answer)?)
    }

    pub async fn refund(
        &self,
        http: &reqwest::Client,
        invoice_id: &str,
        amount: i64,
        reference_id: &str,
        reason: &str,
    ) -> anyhow::Result<RefundAnswer> {
        let body = json!({ "invoice_id": invoice_id, "amount": amount, "reference_id": reference_id, "reason": reason });
        let answer = self
            .call(
                http,
                http.post(format!("{}/refunds", self.base_url)).json(&body),
            )
            .await?;
        Ok(serde_json::from_value(answer)?)
    }
}
