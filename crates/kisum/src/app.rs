//! The application: the router with its middleware, the OpenAPI document, and the server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use service::middleware::Limits;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth;
use crate::core::{catalog, companies, entitlements, events, subscriptions};
use crate::platform::clock::{SharedClock, SystemClock};
use crate::platform::config::ServeConfig;
use crate::platform::db::Db;
use crate::platform::error::{ApiError, Problem};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kisum addon-modules backend",
        description = "What each company commercially owns (Core), who may do what inside it (Auth), \
                       and the addon backends behind that gate. JSON fields are camelCase; errors are \
                       `application/problem+json` with a stable `code`. Machine routes under `/internal` \
                       take `X-Internal-API-Key`; tenant routes take a Bearer access token and `x-org`.",
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "catalog", description = "Modules, packages and addon products"),
        (name = "pricing", description = "Public reads for a pricing page (no credentials)"),
        (name = "companies", description = "Companies (tenants)"),
        (name = "entitlements", description = "Base subscriptions, addons, entitlement snapshots, history and the change feed"),
        (name = "auth", description = "Signup, login, sessions, signing keys and effective access"),
        (name = "members", description = "Company members, roles and grants (delegation)"),
        (name = "directory", description = "Venues and artist profiles: owners manage theirs (modules `venue`, `artist`); Nextkt reads them (internal)"),
        (name = "ticketing", description = "A company's ticketing in Nextkt (Mode A): linking, key rotation, unlinking"),
        (name = "promoter", description = "Promoter events (module `promoter`): planned here, published into the company's Nextkt organization, sales read back"),
        (name = "finance", description = "The finance addon: vendors, bills, income, exchange rates, profit and loss, audit (module `finance`)"),
        (name = "platform", description = "Health, readiness, metrics"),
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
            "internal_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Internal-API-Key",
                "The server's KISUM_INTERNAL_API_KEY (machine callers only).",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from /auth/login (EdDSA JWT; keys at /.well-known/jwks.json), \
                         with the company chosen by the x-org header.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Every route but the public ones, with its OpenAPI description.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(catalog::internal_modules))
        .routes(routes!(catalog::internal_packages))
        .routes(routes!(catalog::internal_addons))
        .routes(routes!(catalog::internal_permissions))
        .routes(routes!(auth::signup::signup))
        .routes(routes!(auth::sessions::login))
        .routes(routes!(auth::sessions::refresh))
        .routes(routes!(auth::sessions::logout))
        .routes(routes!(auth::sessions::change_password))
        .routes(routes!(auth::access::me_access))
        .routes(routes!(auth::keys::jwks))
        .routes(routes!(auth::keys::rotate))
        .routes(routes!(auth::members::list, auth::members::add))
        .routes(routes!(auth::members::set))
        .routes(routes!(auth::members::set_role))
        .routes(routes!(auth::invitations::invite))
        .routes(routes!(auth::invitations::accept))
        .routes(routes!(auth::resets::request))
        .routes(routes!(auth::resets::confirm))
        .routes(routes!(
            crate::ticketing::link::get,
            crate::ticketing::link::link,
            crate::ticketing::link::unlink
        ))
        .routes(routes!(crate::ticketing::link::rotate))
        .routes(routes!(companies::list, companies::create))
        .routes(routes!(companies::get))
        .routes(routes!(entitlements::get))
        .routes(routes!(entitlements::history))
        .routes(routes!(subscriptions::set_subscription))
        .routes(routes!(subscriptions::set_addon))
        .routes(routes!(events::feed))
        .merge(crate::directory::internal_routes())
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics_text))
}

/// The browser-facing routes: no credentials, CORS for the configured origins.
fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(catalog::public_packages))
        .routes(routes!(catalog::public_addons))
}

/// The OpenAPI document, as served at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes()
        .merge(public_routes())
        .merge(crate::finance::routes())
        .merge(crate::directory::venue_routes())
        .merge(crate::directory::artist_routes())
        .merge(crate::promoter::routes())
        .into_openapi()
}

/// A module's routes behind its gate (the chain up to "module required", once for all).
fn gated(
    state: &AppState,
    module: &'static str,
    routes: OpenApiRouter<AppState>,
    openapi: &mut utoipa::openapi::OpenApi,
) -> Router<AppState> {
    let (router, doc) = routes.split_for_parts();
    openapi.merge(doc);
    router.route_layer(middleware::from_fn_with_state(
        (state.clone(), module),
        crate::auth::access::require_module,
    ))
}

fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET])
        .max_age(Duration::from_secs(600))
}

pub fn router(state: AppState) -> Router {
    let (api, mut openapi) = api_routes().split_for_parts();
    let (public, public_doc) = public_routes().split_for_parts();
    openapi.merge(public_doc);
    let finance = gated(
        &state,
        crate::finance::MODULE,
        crate::finance::routes(),
        &mut openapi,
    );
    let venue = gated(
        &state,
        "venue",
        crate::directory::venue_routes(),
        &mut openapi,
    );
    let artist = gated(
        &state,
        "artist",
        crate::directory::artist_routes(),
        &mut openapi,
    );
    let promoter = gated(
        &state,
        crate::promoter::MODULE,
        crate::promoter::routes(),
        &mut openapi,
    );
    let openapi_json = Arc::new(openapi.to_pretty_json().unwrap_or_default());
    let docs_html = Arc::new(service::docs_page::render(&openapi));
    let limits = Limits {
        request_timeout: Duration::from_secs(state.config.request_timeout_secs),
        max_body_bytes: state.config.max_body_bytes,
    };
    let routes = api
        .merge(public.layer(cors(&state.config.public_cors_origins)))
        .merge(finance)
        .merge(venue)
        .merge(artist)
        .merge(promoter)
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
        .route_layer(middleware::from_fn(service::metrics::track));
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

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ok`
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "platform",
    responses((status = 200, body = Readiness), (status = 503, description = "`database_unavailable`", body = Problem)))]
pub async fn readyz(State(state): State<AppState>) -> Result<axum::Json<Readiness>, ApiError> {
    if state.db.ping().await {
        Ok(axum::Json(Readiness {
            status: "ok",
            database: state.db.dialect.name(),
        }))
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the database does not answer",
        ))
    }
}

/// Prometheus metrics (text format): requests by route pattern, method and status, and their
/// durations. No ids or personal data.
#[utoipa::path(get, path = "/metrics", tag = "platform",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String)))]
pub async fn metrics_text(State(state): State<AppState>) -> Response {
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
        service::set_service_name("kisum");
        config.validate()?;
        if config.internal_api_key.is_none() {
            tracing::warn!(
                "no internal key (KISUM_INTERNAL_API_KEY): every /internal/* route answers 503"
            );
        }
        let db = Db::connect(
            &config.database.database_url,
            config.database.db_max_connections,
        )
        .await?;
        db.migrate(&crate::platform::MIGRATOR).await?;
        db.warm_up().await;
        let catalog = Arc::new(catalog::Catalog::load(&db).await?);
        let keys = crate::auth::keys::KeyRing::open(db.clone(), clock.now_ms()).await?;
        let auth_limits = service::ratelimit::AuthLimits::new(
            config.auth_rate_per_ip,
            config.auth_rate_per_account,
        );
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        let sealer = match &config.secrets_key {
            Some(key) => Some(Arc::new(crate::ticketing::sealing::Sealer::from_hex(key)?)),
            None => None,
        };
        let nextkt = match (&config.nextkt_url, &config.nextkt_partner_key) {
            (Some(url), Some(key)) => {
                service::http::install_crypto_provider();
                Some(Arc::new(crate::ticketing::nextkt::Nextkt::new(
                    url,
                    key,
                    config.nextkt_internal_api_key.as_deref(),
                    service::http::client(None)?,
                )))
            }
            _ => None,
        };
        let state = AppState {
            nextkt,
            sealer,
            db,
            config: Arc::new(config),
            clock,
            catalog,
            metrics: service::metrics::handle(),
            keys,
            access_cache: Arc::default(),
            auth_limits,
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
        let jobs = if self.state.config.no_jobs {
            Vec::new()
        } else {
            crate::jobs::start(&self.state)
        };
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
