//! The client of Nextkt: its partner API (provisioning, organization keys), its admin API
//! with an organization's key (publishing events), and its network routes with Nextkt's
//! internal key (reading sales back). One pool, a time limit per try, a few tries on what
//! may pass (a refused connection, a time-out, a 5xx); a POST is retried only when it is
//! safe to repeat (provisioning by id, or under an `Idempotency-Key`).

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

const ATTEMPTS: u32 = 3;
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub enum NextktError {
    Unavailable(String),
    /// Nextkt answered a 4xx: the call is wrong and will not pass by retrying.
    Refused(u16, String),
}

pub struct Nextkt {
    base: String,
    partner_key: String,
    internal_key: Option<String>,
    http: reqwest::Client,
}

/// Who a call is made as.
#[derive(Clone, Copy)]
pub enum As<'a> {
    /// Kisum's partner key.
    Partner,
    /// An organization's API key (Mode A).
    Organization(&'a str),
}

#[derive(Debug, Deserialize)]
pub struct CreatedKey {
    pub id: String,
    pub secret: String,
}

#[derive(Debug, Deserialize)]
struct Provisioned {
    organization: OrganizationId,
    api_key: Option<CreatedKey>,
}

#[derive(Debug, Deserialize)]
struct OrganizationId {
    id: String,
}

impl Nextkt {
    pub fn new(
        base: &str,
        partner_key: &str,
        internal_key: Option<&str>,
        http: reqwest::Client,
    ) -> Nextkt {
        Nextkt {
            base: base.trim_end_matches('/').to_string(),
            partner_key: partner_key.to_string(),
            internal_key: internal_key.map(str::to_string),
            http,
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, NextktError> {
        self.send(As::Partner, method, path, body, None).await
    }

    /// One call, retried while it may pass. `idempotency_key` makes a POST safe to repeat.
    pub async fn send(
        &self,
        who: As<'_>,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Value, NextktError> {
        let bearer = match who {
            As::Partner => self.partner_key.as_str(),
            As::Organization(key) => key,
        };
        self.attempt(method, path, body, |req| {
            let req = req.bearer_auth(bearer);
            match idempotency_key {
                Some(key) => req.header("idempotency-key", key),
                None => req,
            }
        })
        .await
    }

    /// Whether the network routes can be read (Nextkt's internal key is set).
    pub fn reads_network(&self) -> bool {
        self.internal_key.is_some()
    }

    /// A network route of Nextkt, for `company` (`None` when no internal key is set).
    pub async fn network(&self, company: &str, path: &str) -> Option<Result<Value, NextktError>> {
        let key = self.internal_key.as_deref()?;
        Some(
            self.attempt(reqwest::Method::GET, path, None, |req| {
                req.header("x-internal-api-key", key)
                    .header("x-org", company)
            })
            .await,
        )
    }

    async fn attempt(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        credentials: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<Value, NextktError> {
        let url = format!("{}{path}", self.base);
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 * 3u64.pow(attempt - 1))).await;
            }
            let req = self
                .http
                .request(method.clone(), &url)
                .timeout(ATTEMPT_TIMEOUT);
            let mut req = credentials(req);
            if let Some(body) = &body {
                req = req.json(body);
            }
            let resp = match req.send().await {
                Ok(resp) => resp,
                Err(err) => {
                    last = format!("{url}: {err}");
                    continue;
                }
            };
            let status = resp.status();
            if status.is_server_error() {
                last = format!("{url}: {status}");
                continue;
            }
            let text = resp.text().await.unwrap_or_default();
            if !status.is_success() {
                return Err(NextktError::Refused(status.as_u16(), text));
            }
            return Ok(serde_json::from_str(&text).unwrap_or(Value::Null));
        }
        Err(NextktError::Unavailable(last))
    }

    /// Provisions (or finds again) the organization of `company`; with the first key's
    /// secret when this call created it.
    pub async fn provision(
        &self,
        company: &str,
        name: &str,
    ) -> Result<(String, Option<CreatedKey>), NextktError> {
        let body = serde_json::json!({ "name": name, "external_ref": company, "id": company });
        let answer = self
            .call(reqwest::Method::POST, "/partner/organizations", Some(body))
            .await?;
        let provisioned: Provisioned = serde_json::from_value(answer).map_err(|e| {
            NextktError::Unavailable(format!("unreadable provisioning answer: {e}"))
        })?;
        Ok((provisioned.organization.id, provisioned.api_key))
    }

    /// A new admin key for the organization; every other admin key is revoked in the same
    /// step (rotation, or taking over after a lost answer).
    pub async fn new_key(&self, org: &str) -> Result<CreatedKey, NextktError> {
        let answer = self
            .call(
                reqwest::Method::POST,
                &format!("/partner/organizations/{org}/api-keys"),
                Some(
                    serde_json::json!({ "name": "Kisum", "role": "admin", "revoke_others": true }),
                ),
            )
            .await?;
        serde_json::from_value(answer)
            .map_err(|e| NextktError::Unavailable(format!("unreadable key answer: {e}")))
    }

    pub async fn revoke_key(&self, org: &str, key: &str) -> Result<(), NextktError> {
        match self
            .call(
                reqwest::Method::DELETE,
                &format!("/partner/organizations/{org}/api-keys/{key}"),
                None,
            )
            .await
        {
            // Already gone is what we wanted.
            Err(NextktError::Refused(404, _)) => Ok(()),
            other => other.map(|_| ()),
        }
    }
}
