//! The application: shared state, the router with its middleware, and the server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use service::middleware::Limits;
use tokio::net::TcpListener;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::buyers::accounts as buyer_accounts;
use crate::buyers::credential_cache::CredentialCache;
use crate::catalog::{events, seating, storefront, ticket_types};
use crate::commerce::{admin_orders, cart, discounts, fees, orders, points, refunds};
use crate::inventory::jobs as inventory_jobs;
use crate::inventory::reserve::Reserver;
use crate::payments::{simulated as simulated_payments, webhooks};
use crate::platform::clock::{SharedClock, SystemClock};
use crate::platform::config::ServeConfig;
use crate::platform::db::Db;
use crate::platform::error::ApiError;
use crate::platform::ratelimit::AuthLimits;
use crate::platform::secrets::same_secret;
use crate::platform::{docs_page, idempotency, metrics as http_metrics};
use crate::state::AppState;
use crate::tenancy::access::{bearer, invalid_credentials, missing_credentials};
use crate::tenancy::{api_keys, audit, members, operators, organizations, partners};
use crate::tickets::page as ticket_page;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Nextkt API",
        description = "Multi-tenant ticketing platform. Errors are `application/problem+json` with a stable `code`. \
                       Every POST accepts `Idempotency-Key`. Lists use cursor pagination (`limit`, `cursor`, `next_cursor`).",
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "operator auth", description = "Operator sign-up, login and sessions"),
        (name = "organization", description = "The caller's organization and its audit log"),
        (name = "members", description = "Operators of the organization and their roles"),
        (name = "keys", description = "API keys and storefront keys"),
        (name = "partner", description = "Provisioning of organizations by partners"),
        (name = "buyer auth", description = "Ticket buyer accounts at a storefront"),
        (name = "events", description = "Events, ticket types and inventory figures (operators)"),
        (name = "seating", description = "Sections, seats and venue-map hotspots"),
        (name = "storefront", description = "The consumer catalog: events, inventory, live availability"),
        (name = "cart", description = "Holds: the oversell-proof reservation of tickets and seats"),
        (name = "discounts", description = "Discount codes"),
        (name = "points", description = "Loyalty points: program, balances, history"),
        (name = "checkout", description = "Checkout, orders and the buyer's tickets"),
        (name = "orders", description = "Orders for operators: search, detail, resend, cancel"),
        (name = "payments", description = "Payment providers: the simulated pay page and provider webhooks"),
        (name = "tickets", description = "The public ticket page"),
        (name = "gate", description = "Check-in lists, scanner devices and scans"),
        (name = "kisum", description = "Kisum's venue and artist directory, looked up through Nextkt"),
        (name = "network", description = "Read-only views for Kisum's apps of the events that involve a Kisum company (internal key + x-org)"),
        (name = "platform", description = "Health, readiness, metrics, API description"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An operator access token (`nkt_oa_…`) or an organization API key (`nkt_live_…`, `nkt_test_…`); \
                         partner routes take a partner key (`nkt_partner_…`).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The server's `--metrics-token`, when one is set (otherwise /metrics is open).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "internal_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Internal-API-Key",
                "The platform's internal key (storefront backends), with x-tenant.",
            ))),
        );
        components.add_security_scheme(
            "tenant",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-tenant",
                "The organization id the storefront acts for.",
            ))),
        );
        components.add_security_scheme(
            "storefront_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Storefront-Key",
                "An organization's storefront key (`nkt_sf_live_…`); may also be sent as `Authorization: Bearer`.",
            ))),
        );
        components.add_security_scheme(
            "buyer",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Buyer-Token",
                "A buyer's access token (`nkt_ba_…`); may also be sent as `Authorization: Bearer`.",
            ))),
        );
    }
}

/// Every API route, registered together with its OpenAPI description.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(operators::signup))
        .routes(routes!(operators::login))
        .routes(routes!(operators::refresh))
        .routes(routes!(operators::logout))
        .routes(routes!(operators::accept_invite))
        .routes(routes!(operators::me))
        .routes(routes!(organizations::get, organizations::update))
        .routes(routes!(audit::list))
        .routes(routes!(members::list, members::add))
        .routes(routes!(members::change_role, members::remove))
        .routes(routes!(api_keys::list_api_keys, api_keys::create_api_key))
        .routes(routes!(api_keys::revoke_api_key))
        .routes(routes!(
            api_keys::list_storefront_keys,
            api_keys::create_storefront_key
        ))
        .routes(routes!(api_keys::revoke_storefront_key))
        .routes(routes!(partners::list, partners::provision))
        .routes(routes!(partners::get))
        .routes(routes!(partners::list_keys, partners::create_key))
        .routes(routes!(partners::revoke_key))
        .routes(routes!(partners::suspend))
        .routes(routes!(partners::resume))
        .routes(routes!(buyer_accounts::register))
        .routes(routes!(buyer_accounts::login))
        .routes(routes!(buyer_accounts::refresh))
        .routes(routes!(buyer_accounts::logout))
        .routes(routes!(buyer_accounts::me))
        .routes(routes!(buyer_accounts::request_password_reset))
        .routes(routes!(buyer_accounts::confirm_password_reset))
        .routes(routes!(buyer_accounts::verify_email))
        .routes(routes!(events::list, events::create))
        .routes(routes!(events::get, events::update))
        .routes(routes!(events::publish))
        .routes(routes!(events::unpublish))
        .routes(routes!(events::end))
        .routes(routes!(events::cancel))
        .routes(routes!(ticket_types::list, ticket_types::create))
        .routes(routes!(ticket_types::update))
        .routes(routes!(seating::list_sections, seating::create_section))
        .routes(routes!(seating::update_seats))
        .routes(routes!(seating::create_hotspot))
        .routes(routes!(seating::delete_hotspot))
        .routes(routes!(inventory_jobs::audit_endpoint))
        .routes(routes!(storefront::list))
        .routes(routes!(storefront::get))
        .routes(routes!(storefront::inventory))
        .routes(routes!(storefront::availability))
        .routes(routes!(cart::get))
        .routes(routes!(cart::add))
        .routes(routes!(cart::change, cart::remove))
        .routes(routes!(cart::extend))
        .routes(routes!(cart::apply_discount, cart::remove_discount))
        .routes(routes!(discounts::list, discounts::create))
        .routes(routes!(discounts::get, discounts::update))
        .routes(routes!(fees::show))
        .routes(routes!(orders::checkout))
        .routes(routes!(admin_orders::list))
        .routes(routes!(admin_orders::get))
        .routes(routes!(admin_orders::resend))
        .routes(routes!(admin_orders::cancel))
        .routes(routes!(crate::commerce::sales::event_sales))
        .routes(routes!(refunds::create))
        .routes(routes!(refunds::list))
        .routes(routes!(refunds::get))
        .routes(routes!(orders::my_orders))
        .routes(routes!(orders::my_order))
        .routes(routes!(orders::cart_order))
        .routes(routes!(orders::my_tickets))
        .routes(routes!(
            simulated_payments::page,
            simulated_payments::decide
        ))
        .routes(routes!(webhooks::simulated))
        .routes(routes!(webhooks::xendit))
        .routes(routes!(ticket_page::show))
        .routes(routes!(
            crate::gate::lists::list,
            crate::gate::lists::create
        ))
        .routes(routes!(
            crate::gate::devices::list,
            crate::gate::devices::enroll
        ))
        .routes(routes!(crate::gate::devices::revoke))
        .routes(routes!(crate::gate::devices::pair))
        .routes(routes!(crate::gate::scan::scan))
        .routes(routes!(crate::gate::scan::upload))
        .routes(routes!(crate::gate::bundle::bundle))
        .routes(routes!(crate::gate::guests::list, crate::gate::guests::add))
        .routes(routes!(crate::gate::guests::import))
        .routes(routes!(crate::gate::reports::guests))
        .routes(routes!(crate::gate::reports::export))
        .routes(routes!(crate::gate::reports::checkins))
        .routes(routes!(crate::gate::reports::conflicts))
        .routes(routes!(crate::tickets::transfer::by_buyer))
        .routes(routes!(crate::tickets::transfer::by_operator))
        .routes(routes!(crate::tickets::transfer::history))
        .routes(routes!(
            crate::tickets::signing::list,
            crate::tickets::signing::rotate
        ))
        .routes(routes!(cart::use_points))
        .routes(routes!(points::get_program, points::set_program))
        .routes(routes!(points::adjust))
        .routes(routes!(points::rewards))
        .routes(routes!(
            fees::set_for_organization,
            fees::clear_for_organization
        ))
        .routes(routes!(crate::kisum::venues))
        .routes(routes!(crate::kisum::venue))
        .routes(routes!(crate::kisum::artists))
        .routes(routes!(crate::kisum::artist))
        .routes(routes!(crate::kisum::network::events))
        .routes(routes!(crate::kisum::network::event))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics_text))
}

/// The OpenAPI document, as served at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes().into_openapi()
}

pub fn router(state: AppState) -> Router {
    let (api, openapi) = api_routes().split_for_parts();
    let openapi_json = Arc::new(openapi.to_pretty_json().unwrap_or_default());
    let docs_html = Arc::new(docs_page::render(&openapi));
    let limits = Limits {
        request_timeout: Duration::from_secs(state.config.request_timeout_secs),
        max_body_bytes: state.config.max_body_bytes,
    };
    let routes = api
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let json = openapi_json.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        json.as_ref().clone(),
                    )
                }
            }),
        )
        .route(
            "/docs",
            axum::routing::get(move || {
                let html = docs_html.clone();
                async move { Html(html.as_ref().clone()) }
            }),
        )
        .route_layer(middleware::from_fn_with_state(
            idempotency::settings(&state),
            idempotency::layer,
        ))
        .route_layer(middleware::from_fn(http_metrics::track));
    service::middleware::around(routes, limits).with_state(state)
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`
    pub status: &'static str,
}

/// Liveness: the process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "platform", responses((status = 200, body = Health)))]
pub async fn healthz() -> axum::Json<Health> {
    axum::Json(Health { status: "ok" })
}

/// Readiness: the database answers.
#[utoipa::path(
    get, path = "/readyz", tag = "platform",
    responses((status = 200, body = Health), (status = 503, description = "Database unreachable", body = crate::platform::error::Problem))
)]
pub async fn readyz(State(state): State<AppState>) -> Result<axum::Json<Health>, ApiError> {
    if state.db.ping().await {
        Ok(axum::Json(Health { status: "ok" }))
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the database does not answer",
        ))
    }
}

/// Who may read `/metrics`: anyone, or, with `--metrics-token`, the bearer of that token.
pub struct MetricsAccess;

impl FromRequestParts<AppState> for MetricsAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(expected) = state.config.metrics_token.as_deref() else {
            return Ok(MetricsAccess);
        };
        let presented = bearer(parts).ok_or_else(missing_credentials)?;
        if same_secret(presented, expected) {
            Ok(MetricsAccess)
        } else {
            Err(invalid_credentials())
        }
    }
}

/// Prometheus metrics (text format): requests by route pattern, method and status, their
/// durations, inventory audit and scan counters. No ids or personal data. Open unless the
/// server is started with `--metrics-token`; then it takes `Authorization: Bearer <token>`.
#[utoipa::path(
    get, path = "/metrics", tag = "platform",
    responses(
        (status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String),
        (status = 401, description = "A metrics token is set and was not sent (`missing_credentials`) or is wrong (`invalid_credentials`)", body = crate::platform::error::Problem),
    ),
    security((), ("metrics_token" = []))
)]
pub async fn metrics_text(State(state): State<AppState>, _access: MetricsAccess) -> Response {
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

/// A built server: bound to its port, migrated, ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    pub async fn build(config: ServeConfig) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(config: ServeConfig, clock: SharedClock) -> anyhow::Result<Self> {
        service::set_service_name("nextkt");
        config.validate()?;
        if config.simulated_payments() {
            tracing::warn!(
                "payments are simulated: no money moves, anyone with a payment link can mark it paid, \
                 and every order is a test order (livemode false); set --payment-provider xendit to take money"
            );
        }
        let db = Db::connect(
            &config.database.database_url,
            config.database.db_max_connections,
        )
        .await?;
        db.migrate(&crate::platform::MIGRATOR).await?;
        crate::tickets::backfill_search(&db).await?;
        db.warm_up().await;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        let bound = listener.local_addr()?;
        let base_url: Arc<str> = config
            .public_base_url
            .clone()
            .map(|u| u.trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("http://{bound}"))
            .into();
        let http = crate::platform::http::client(config.extra_ca_file.as_deref())?;
        let kisum = match (&config.kisum_url, &config.kisum_internal_api_key) {
            (Some(url), Some(key)) => {
                let parsed = reqwest::Url::parse(url)
                    .map_err(|e| anyhow::anyhow!("NEXTKT_KISUM_URL {url:?}: {e}"))?;
                anyhow::ensure!(
                    matches!(parsed.scheme(), "http" | "https"),
                    "NEXTKT_KISUM_URL must be an http(s) URL"
                );
                Some(Arc::new(crate::kisum::KisumClient::new(
                    url,
                    key,
                    http.clone(),
                )))
            }
            (None, None) => None,
            _ => anyhow::bail!(
                "set both NEXTKT_KISUM_URL and NEXTKT_KISUM_INTERNAL_API_KEY, or neither"
            ),
        };
        let state = AppState {
            kisum,
            base_url,
            http,
            auth_limits: AuthLimits::new(config.auth_rate_per_ip, config.auth_rate_per_account),
            reserver: Reserver::new(db.clone(), clock.clone()),
            scan_writer: crate::gate::writer::ScanWriter::new(db.clone()),
            signing_keys: Arc::default(),
            bundles: Arc::default(),
            credential_cache: Arc::new(CredentialCache::default()),
            device_cache: Arc::default(),
            db,
            config: Arc::new(config),
            clock,
            metrics: http_metrics::handle(),
        };
        Ok(Self { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let transport = crate::notify::worker::Transport::from_config(
            self.state.config.smtp_url.as_deref(),
            &self.state.config.mail_dir,
        )?;
        let jobs = crate::jobs::start(&self.state, transport);
        let app = router(self.state);
        let result = axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        for job in jobs {
            job.abort();
        }
        result.map_err(Into::into)
    }
}
