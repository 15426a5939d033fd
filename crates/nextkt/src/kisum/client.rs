//! The HTTP client for Kisum's internal routes: one connection pool, a time limit per
//! attempt, a few retries (with a short backoff) on what may pass (a refused connection, a
//! time-out, a 5xx), never on an answer that will not change (404, 401).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Tries per request, the first included.
const ATTEMPTS: u32 = 3;
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug)]
pub enum KisumError {
    /// No `NEXTKT_KISUM_URL` / `NEXTKT_KISUM_INTERNAL_API_KEY`.
    NotConfigured,
    /// Kisum did not answer usefully (down, slow, refused our key, answered nonsense).
    Unavailable(String),
    /// Kisum answered that the entry does not exist.
    NotFound,
}

impl From<KisumError> for crate::platform::error::ApiError {
    fn from(err: KisumError) -> Self {
        use crate::platform::error::ApiError;
        use axum::http::StatusCode;
        match err {
            KisumError::NotConfigured => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "kisum_not_configured",
                "this server is not connected to Kisum (NEXTKT_KISUM_URL and NEXTKT_KISUM_INTERNAL_API_KEY)",
            ),
            KisumError::Unavailable(why) => {
                tracing::warn!(reason = %why, "Kisum unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "kisum_unavailable",
                    "Kisum does not answer right now; try again shortly",
                )
            }
            KisumError::NotFound => ApiError::not_found("Kisum entry"),
        }
    }
}

/// A Kisum venue, as Nextkt shows it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all(deserialize = "camelCase"))]
pub struct Venue {
    pub id: String,
    /// The Kisum venue company that owns it.
    pub company_id: String,
    pub name: String,
    pub address: String,
    pub city: String,
    pub country: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub timezone: String,
    pub capacity: i64,
    #[serde(default)]
    pub spaces: Vec<Space>,
    #[serde(default)]
    pub images: Vec<String>,
    pub archived: bool,
    pub updated_at: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Space {
    pub id: String,
    pub name: String,
    pub capacity: i64,
    pub layouts: Vec<String>,
}

/// A Kisum artist profile, as Nextkt shows it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all(deserialize = "camelCase"))]
pub struct Artist {
    pub id: String,
    pub company_id: String,
    pub name: String,
    pub country: String,
    #[serde(default)]
    pub genres: Vec<String>,
    pub image_url: Option<String>,
    #[serde(default)]
    pub bio: String,
    #[serde(default)]
    pub links: Vec<String>,
    pub archived: bool,
    pub updated_at: String,
}

/// A page of Kisum's answer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all(deserialize = "camelCase"))]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

pub struct KisumClient {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl KisumClient {
    pub fn new(base: &str, key: &str, http: reqwest::Client) -> KisumClient {
        KisumClient {
            base: base.trim_end_matches('/').to_string(),
            key: key.to_string(),
            http,
        }
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, KisumError> {
        let params: Vec<(&str, &str)> = query
            .iter()
            .copied()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.base), &params)
            .map_err(|e| KisumError::Unavailable(format!("NEXTKT_KISUM_URL: {e}")))?;
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 * 3u64.pow(attempt - 1))).await;
            }
            let sent = self
                .http
                .get(url.clone())
                .header("x-internal-api-key", &self.key)
                .timeout(ATTEMPT_TIMEOUT)
                .send()
                .await;
            let resp = match sent {
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
            if status == reqwest::StatusCode::NOT_FOUND {
                return Err(KisumError::NotFound);
            }
            if !status.is_success() {
                // A refused key or a bad request will not pass by retrying.
                return Err(KisumError::Unavailable(format!("{url}: {status}")));
            }
            return resp
                .json::<T>()
                .await
                .map_err(|e| KisumError::Unavailable(format!("{url}: unreadable answer: {e}")));
        }
        Err(KisumError::Unavailable(last))
    }

    pub async fn venues(
        &self,
        q: &str,
        city: &str,
        cursor: &str,
    ) -> Result<Listed<Venue>, KisumError> {
        self.get(
            "/internal/venues",
            &[("q", q), ("city", city), ("cursor", cursor)],
        )
        .await
    }

    pub async fn venue(&self, id: &str) -> Result<Venue, KisumError> {
        if !crate::platform::ids::is_valid_external_id(id) {
            return Err(KisumError::NotFound);
        }
        self.get(&format!("/internal/venues/{id}"), &[]).await
    }

    pub async fn artists(
        &self,
        q: &str,
        genre: &str,
        cursor: &str,
    ) -> Result<Listed<Artist>, KisumError> {
        self.get(
            "/internal/artists",
            &[("q", q), ("genre", genre), ("cursor", cursor)],
        )
        .await
    }

    pub async fn artist(&self, id: &str) -> Result<Artist, KisumError> {
        if !crate::platform::ids::is_valid_external_id(id) {
            return Err(KisumError::NotFound);
        }
        self.get(&format!("/internal/artists/{id}"), &[]).await
    }
}
