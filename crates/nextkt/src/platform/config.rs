//! Settings of `nextkt serve`. Every setting is a flag and a `NEXTKT_*` variable; all have
//! defaults, so the server starts with no configuration at all. Documented in
//! `docs/configuration.md`.

use std::net::SocketAddr;

#[derive(Clone, Debug, clap::Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://PATH` (embedded) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "NEXTKT_DATABASE_URL",
        default_value = "sqlite://nextkt.db"
    )]
    pub database_url: String,

    /// Largest number of pooled database connections.
    #[arg(long, env = "NEXTKT_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Secrets shown in the documentation: a server never runs with one of them.
pub const EXAMPLE_KEYS: [&str; 1] = ["change-me-internal-key"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PaymentProvider {
    Simulated,
    Xendit,
}

#[derive(Clone, Debug, clap::Args)]
pub struct ServeConfig {
    /// Address and port to listen on (port 0 picks a free port).
    #[arg(long, env = "NEXTKT_LISTEN", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub database: DatabaseArgs,

    /// The platform's internal key: storefront backends send it as `X-Internal-API-Key`
    /// with `x-tenant`. Unset: that way in is closed and only storefront keys work.
    #[arg(long, env = "NEXTKT_INTERNAL_API_KEY", hide_env_values = true)]
    pub internal_api_key: Option<String>,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "NEXTKT_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Requests taking longer than this many seconds are answered 503 `timeout`.
    #[arg(long, env = "NEXTKT_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Lifetime of operator and buyer access tokens, in seconds.
    #[arg(long, env = "NEXTKT_ACCESS_TOKEN_TTL_SECS", default_value_t = 900)]
    pub access_token_ttl_secs: i64,

    /// Lifetime of refresh tokens, in seconds.
    #[arg(long, env = "NEXTKT_REFRESH_TOKEN_TTL_SECS", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl_secs: i64,

    /// Attempts at login, registration and password reset allowed per client IP per minute.
    #[arg(long, env = "NEXTKT_AUTH_RATE_PER_IP", default_value_t = 30)]
    pub auth_rate_per_ip: u32,

    /// Attempts at login and password reset allowed per account (email) per minute.
    #[arg(long, env = "NEXTKT_AUTH_RATE_PER_ACCOUNT", default_value_t = 5)]
    pub auth_rate_per_account: u32,

    /// Take the client IP from the first `X-Forwarded-For` entry (only behind a trusted proxy).
    #[arg(long, env = "NEXTKT_TRUST_FORWARDED_FOR", default_value_t = false)]
    pub trust_forwarded_for: bool,

    /// Base URL the server is reached at, used in links (ticket pages, payment pages, emails)
    /// and by the simulated payment provider's callbacks. Default: http:// + the listen address.
    #[arg(long, env = "NEXTKT_PUBLIC_BASE_URL")]
    pub public_base_url: Option<String>,

    /// Log format: `text` for people, `json` for log collectors.
    #[arg(long, env = "NEXTKT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Measurement only: accept `X-Reservation-Path: baseline`, which reserves through a
    /// deliberately naive path (one locking transaction per request) so the benchmark can
    /// compare. Never enable in production.
    #[arg(
        long,
        env = "NEXTKT_ENABLE_BASELINE_RESERVATIONS",
        default_value_t = false
    )]
    pub enable_baseline_reservations: bool,

    /// Run the background jobs in this process: hold sweeper, inventory auditor, expiry of
    /// unpaid orders, refund submission, email delivery (see `jobs.rs`). The flag's old
    /// name, `--run-inventory-jobs`, still works.
    #[arg(long, alias = "run-inventory-jobs", env = "NEXTKT_RUN_JOBS", default_value_t = true, action = clap::ArgAction::Set)]
    pub run_jobs: bool,

    /// Platform fee per ticket, fixed part, in minor units of --platform-fee-currency.
    #[arg(long, env = "NEXTKT_PLATFORM_FEE_FIXED", default_value_t = 2_000)]
    pub platform_fee_fixed: i64,

    /// Platform fee per ticket, percentage of the ticket price in basis points (250 = 2.5 %).
    #[arg(long, env = "NEXTKT_PLATFORM_FEE_BPS", default_value_t = 250)]
    pub platform_fee_bps: i64,

    /// Least platform fee per paid ticket, minor units.
    #[arg(long, env = "NEXTKT_PLATFORM_FEE_MIN", default_value_t = 0)]
    pub platform_fee_min: i64,

    /// Most platform fee per ticket, minor units (unset: no maximum).
    #[arg(long, env = "NEXTKT_PLATFORM_FEE_MAX")]
    pub platform_fee_max: Option<i64>,

    /// Currency of the platform fee's fixed, minimum and maximum amounts.
    #[arg(long, env = "NEXTKT_PLATFORM_FEE_CURRENCY", default_value = "IDR")]
    pub platform_fee_currency: String,

    /// Payment provider for new payments: `simulated` (a test pay page; no money moves) or
    /// `xendit` (needs --xendit-secret-key and --xendit-callback-token).
    #[arg(long, env = "NEXTKT_PAYMENT_PROVIDER", value_enum, default_value_t = PaymentProvider::Simulated)]
    pub payment_provider: PaymentProvider,

    /// Let live storefront keys check out through the simulated provider (their orders are
    /// still test orders). Off by default: a live storefront never gives tickets away.
    #[arg(long, env = "NEXTKT_ALLOW_SIMULATED_FOR_LIVE_KEYS", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_simulated_for_live_keys: bool,

    /// Xendit secret API key.
    #[arg(long, env = "NEXTKT_XENDIT_SECRET_KEY", hide_env_values = true)]
    pub xendit_secret_key: Option<String>,

    /// The callback verification token from the Xendit dashboard (`x-callback-token`).
    #[arg(long, env = "NEXTKT_XENDIT_CALLBACK_TOKEN", hide_env_values = true)]
    pub xendit_callback_token: Option<String>,

    /// Kisum's address (its internal routes), where venues and artists come from, e.g.
    /// `http://127.0.0.1:3099`. Unset: Kisum lookups answer 503 `kisum_not_configured`.
    #[arg(long, env = "NEXTKT_KISUM_URL")]
    pub kisum_url: Option<String>,

    /// The internal key Kisum gave this server (`X-Internal-API-Key` on Kisum's side).
    #[arg(long, env = "NEXTKT_KISUM_INTERNAL_API_KEY", hide_env_values = true)]
    pub kisum_internal_api_key: Option<String>,

    /// How often each Kisum venue and artist that events reference is read again, in
    /// seconds (a change in Kisum reaches events' snapshots within about this long).
    #[arg(long, env = "NEXTKT_KISUM_REFRESH_SECS", default_value_t = 300)]
    pub kisum_refresh_secs: u64,

    /// Xendit's API address (a local stand-in in tests).
    #[arg(
        long,
        env = "NEXTKT_XENDIT_BASE_URL",
        default_value = "https://api.xendit.co"
    )]
    pub xendit_base_url: String,

    /// A PEM file of CA certificates to trust for outgoing HTTPS (Xendit) besides the
    /// built-in Mozilla roots, e.g. a corporate proxy's CA or a local stand-in's.
    #[arg(long, env = "NEXTKT_EXTRA_CA_FILE")]
    pub extra_ca_file: Option<std::path::PathBuf>,

    /// SMTP server for outgoing email, e.g. `smtps://user:pass@smtp.example.com` or
    /// `smtp://127.0.0.1:2525`. Unset: emails are written as .eml files to --mail-dir.
    #[arg(long, env = "NEXTKT_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// Sender of outgoing email.
    #[arg(
        long,
        env = "NEXTKT_MAIL_FROM",
        default_value = "Nextkt <tickets@localhost>"
    )]
    pub mail_from: String,

    /// Where emails go as .eml files when no SMTP server is configured.
    #[arg(long, env = "NEXTKT_MAIL_DIR", default_value = "outbox")]
    pub mail_dir: String,

    /// Bearer token `/metrics` requires (at least 16 characters). Unset: `/metrics` is open
    /// to anyone who can reach the server (route patterns, request counts and timings,
    /// inventory and scan counters; no ids or personal data).
    #[arg(long, env = "NEXTKT_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// How long an `Idempotency-Key` is remembered, in hours.
    #[arg(long, env = "NEXTKT_IDEMPOTENCY_TTL_HOURS", default_value_t = 24)]
    pub idempotency_ttl_hours: i64,
}

impl ServeConfig {
    /// The Xendit client, when Xendit is configured (it may serve callbacks and refunds of
    /// existing payments even while new payments use the simulated provider).
    pub fn xendit(&self) -> Option<crate::payments::xendit::Xendit> {
        match (&self.xendit_secret_key, &self.xendit_callback_token) {
            (Some(secret_key), Some(callback_token)) => Some(crate::payments::xendit::Xendit {
                base_url: self.xendit_base_url.trim_end_matches('/').to_string(),
                secret_key: secret_key.clone(),
                callback_token: callback_token.clone(),
            }),
            _ => None,
        }
    }

    /// The platform's default fee deal.
    pub fn platform_fee(&self) -> crate::commerce::fees::FeeDeal {
        crate::commerce::fees::FeeDeal {
            fixed: self.platform_fee_fixed,
            bps: self.platform_fee_bps,
            min: self.platform_fee_min,
            max: self.platform_fee_max,
            currency: self.platform_fee_currency.clone(),
        }
    }

    /// The defaults, as `nextkt serve` with no flags and no environment would use them.
    pub fn defaults() -> Self {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            config: ServeConfig,
        }
        Wrapper::parse_from(["nextkt"]).config
    }

    /// Whether orders are paid through the simulated provider (no money moves).
    pub fn simulated_payments(&self) -> bool {
        self.payment_provider == PaymentProvider::Simulated
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        super::db::dialect_of(&self.database.database_url)?;
        anyhow::ensure!(
            self.max_body_bytes >= 1024,
            "--max-body-bytes must be at least 1024"
        );
        anyhow::ensure!(
            self.request_timeout_secs > 0,
            "--request-timeout-secs must be positive"
        );
        anyhow::ensure!(
            self.access_token_ttl_secs > 0,
            "--access-token-ttl-secs must be positive"
        );
        anyhow::ensure!(
            self.refresh_token_ttl_secs > self.access_token_ttl_secs,
            "--refresh-token-ttl-secs must exceed the access token lifetime"
        );
        anyhow::ensure!(
            self.auth_rate_per_ip > 0 && self.auth_rate_per_account > 0,
            "auth rate limits must be positive"
        );
        self.platform_fee().validate().map_err(|e| {
            anyhow::anyhow!(
                "platform fee: {}: {}",
                e.field.unwrap_or_default(),
                e.detail
            )
        })?;
        anyhow::ensure!(
            self.payment_provider != PaymentProvider::Xendit || self.xendit().is_some(),
            "--payment-provider xendit needs --xendit-secret-key and --xendit-callback-token"
        );
        self.mail_from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| anyhow::anyhow!("--mail-from: {e}"))?;
        if let Some(token) = &self.metrics_token {
            anyhow::ensure!(
                token.len() >= 16,
                "--metrics-token must be at least 16 characters"
            );
        }
        if let Some(key) = &self.internal_api_key {
            anyhow::ensure!(
                key.len() >= 16,
                "--internal-api-key must be at least 16 characters"
            );
            anyhow::ensure!(
                !EXAMPLE_KEYS.contains(&key.as_str()),
                "--internal-api-key is an example from the documentation; make one of your own \
                 (for instance `openssl rand -hex 32`)"
            );
        }
        Ok(())
    }
}
