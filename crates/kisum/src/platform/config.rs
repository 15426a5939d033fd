//! Settings of `kisum serve`. Every setting is a flag and a `KISUM_*` variable; all have
//! defaults, so the server starts with no configuration at all. Documented in
//! `docs/kisum.md`.

use std::net::SocketAddr;

#[derive(Clone, Debug, clap::Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://PATH` (embedded) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "KISUM_DATABASE_URL", default_value = "sqlite://kisum.db")]
    pub database_url: String,

    /// Largest number of pooled database connections.
    #[arg(long, env = "KISUM_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Secrets shown in the documentation: a server never runs with one of them.
pub const EXAMPLE_KEYS: [&str; 1] = ["change-me-internal-key"];

/// The shortest internal key accepted: it guards every machine route.
pub const MIN_INTERNAL_KEY_LEN: usize = 16;

#[derive(Clone, Debug, clap::Args)]
pub struct ServeConfig {
    /// Address and port to listen on (port 0 picks a free port).
    #[arg(long, env = "KISUM_LISTEN", default_value = "127.0.0.1:3099")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub database: DatabaseArgs,

    /// The key machine callers send as `X-Internal-API-Key` on `/internal/*`. Unset: every
    /// internal route answers 503 `internal_key_not_configured`.
    #[arg(long, env = "KISUM_INTERNAL_API_KEY", hide_env_values = true)]
    pub internal_api_key: Option<String>,

    /// Browser origins allowed to call `/public/*` (comma-separated, e.g.
    /// `https://kisum.io,https://www.kisum.io`). Empty: no cross-origin reads.
    #[arg(long, env = "KISUM_PUBLIC_CORS_ORIGINS", value_delimiter = ',')]
    pub public_cors_origins: Vec<String>,

    /// Days a `past_due` subscription or addon stays live before it expires.
    #[arg(long, env = "KISUM_GRACE_DAYS", default_value_t = 7)]
    pub grace_days: i64,

    /// Days before a trial ends that consumers hear `trial_ending`.
    #[arg(long, env = "KISUM_TRIAL_NOTICE_DAYS", default_value_t = 3)]
    pub trial_notice_days: i64,

    /// How often the entitlement sweeper records due transitions, in seconds.
    #[arg(long, env = "KISUM_SWEEP_SECS", default_value_t = 30)]
    pub sweep_secs: u64,

    /// Do not run background jobs in this process (another process runs them).
    #[arg(long, env = "KISUM_NO_JOBS", default_value_t = false)]
    pub no_jobs: bool,

    /// Lifetime of access tokens (JWTs), in seconds.
    #[arg(long, env = "KISUM_ACCESS_TOKEN_TTL_SECS", default_value_t = 900)]
    pub access_token_ttl_secs: i64,

    /// Lifetime of refresh tokens, in seconds.
    #[arg(long, env = "KISUM_REFRESH_TOKEN_TTL_SECS", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl_secs: i64,

    /// Attempts at signup, login and refresh allowed per client IP per minute.
    #[arg(long, env = "KISUM_AUTH_RATE_PER_IP", default_value_t = 30)]
    pub auth_rate_per_ip: u32,

    /// Attempts at login allowed per account (email) per minute.
    #[arg(long, env = "KISUM_AUTH_RATE_PER_ACCOUNT", default_value_t = 5)]
    pub auth_rate_per_account: u32,

    /// Take the client IP from the first `X-Forwarded-For` entry (only behind a trusted proxy).
    #[arg(long, env = "KISUM_TRUST_FORWARDED_FOR", default_value_t = false)]
    pub trust_forwarded_for: bool,

    /// Keep computed effective access in memory, keyed by the versions that prove it
    /// current (`on`), or compute it for every request (`off`, for comparison).
    #[arg(long, env = "KISUM_ACCESS_CACHE", value_enum, default_value = "on")]
    pub access_cache: Switch,

    /// SMTP server for email (`smtp://user:pass@host:587` or `smtps://...`). Unset: emails
    /// are written as `.eml` files into --mail-dir.
    #[arg(long, env = "KISUM_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// Where emails go when no SMTP server is set.
    #[arg(long, env = "KISUM_MAIL_DIR", default_value = "kisum-mail")]
    pub mail_dir: String,

    /// The sender of every email.
    #[arg(
        long,
        env = "KISUM_MAIL_FROM",
        default_value = "Kisum <no-reply@kisum.localhost>"
    )]
    pub mail_from: String,

    /// The web app links in emails point to (invitations, password resets).
    #[arg(long, env = "KISUM_APP_URL", default_value = "http://localhost:3000")]
    pub app_url: String,

    /// Nextkt's address, for running companies' ticketing there as its partner (Mode A).
    #[arg(long, env = "KISUM_NEXTKT_URL")]
    pub nextkt_url: Option<String>,

    /// Kisum's partner key in Nextkt (`nextkt partner create Kisum`).
    #[arg(long, env = "KISUM_NEXTKT_PARTNER_KEY", hide_env_values = true)]
    pub nextkt_partner_key: Option<String>,

    /// Nextkt's internal key (its `NEXTKT_INTERNAL_API_KEY`), for reading the sales of
    /// published events back through Nextkt's network routes. Without it, sales answer 503
    /// `network_not_configured`; publishing works without it.
    #[arg(long, env = "KISUM_NEXTKT_INTERNAL_API_KEY", hide_env_values = true)]
    pub nextkt_internal_api_key: Option<String>,

    /// How often (seconds) a process looks for failed publishes to retry.
    #[arg(long, env = "KISUM_PUBLISH_RETRY_SECS", default_value_t = 15)]
    pub publish_retry_secs: u64,

    /// 64 hex characters (32 bytes) that seal secrets at rest (the Nextkt organizations'
    /// API keys). Losing it means linking again; changing it makes sealed keys unreadable.
    #[arg(long, env = "KISUM_SECRETS_KEY", hide_env_values = true)]
    pub secrets_key: Option<String>,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "KISUM_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Requests taking longer than this many seconds are answered 503 `timeout`.
    #[arg(long, env = "KISUM_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Log format.
    #[arg(long, env = "KISUM_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

impl ServeConfig {
    /// The settings a server gets with no flags and no environment.
    pub fn defaults() -> ServeConfig {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            config: ServeConfig,
        }
        <Only as clap::Parser>::parse_from(["kisum"]).config
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(key) = &self.internal_api_key {
            if EXAMPLE_KEYS.contains(&key.as_str()) {
                anyhow::bail!(
                    "KISUM_INTERNAL_API_KEY is the documentation's example; choose a secret"
                );
            }
            if key.len() < MIN_INTERNAL_KEY_LEN {
                anyhow::bail!(
                    "KISUM_INTERNAL_API_KEY must be at least {MIN_INTERNAL_KEY_LEN} characters"
                );
            }
        }
        if self.access_token_ttl_secs < 60
            || self.refresh_token_ttl_secs < self.access_token_ttl_secs
        {
            anyhow::bail!("access tokens live at least 60 s, refresh tokens at least as long");
        }
        match (
            &self.nextkt_url,
            &self.nextkt_partner_key,
            &self.secrets_key,
        ) {
            (None, None, _) => {}
            (Some(url), Some(_), Some(_)) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    anyhow::bail!("KISUM_NEXTKT_URL must be an http(s) URL");
                }
            }
            _ => anyhow::bail!(
                "set KISUM_NEXTKT_URL, KISUM_NEXTKT_PARTNER_KEY and KISUM_SECRETS_KEY together, or none of them"
            ),
        }
        if self.nextkt_internal_api_key.is_some() && self.nextkt_url.is_none() {
            anyhow::bail!("KISUM_NEXTKT_INTERNAL_API_KEY needs KISUM_NEXTKT_URL");
        }
        if self.grace_days < 0 || self.trial_notice_days < 0 {
            anyhow::bail!("grace and notice days cannot be negative");
        }
        for origin in &self.public_cors_origins {
            if !(origin.starts_with("https://") || origin.starts_with("http://")) {
                anyhow::bail!("public CORS origin {origin:?} must start with http:// or https://");
            }
        }
        Ok(())
    }
}
