//! The client of Nextkt's partner API (provisioning, organization keys): one pool, a time
//! limit per try, a few tries on what may pass.

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
    http: reqwest::Client,
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
    pub fn new(base: &str, partner_key: &str, http: reqwest::Client) -> Nextkt {
        Nextkt {
            base: base.trim_end_matches('/').to_string(),
            partner_key: partner_key.to_string(),
            http,
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, NextktError> {
        let url = format!("{}{path}", self.base);
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 * 3u64.pow(attempt - 1))).await;
            }
            let mut req = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(&self.partner_key)
                .timeout(ATTEMPT_TIMEOUT);
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
