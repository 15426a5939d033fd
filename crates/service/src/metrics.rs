//! Prometheus metrics. One recorder per process (tests start several servers in one
//! process, and they share it).

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first, which this crate never does.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Counts requests and times them, labelled by route pattern (never by raw path, which
/// would carry ids and blow up the label set).
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = req.method().as_str().to_string();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let (requests, duration) = http_metric_names();
    metrics::counter!(requests, "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!(duration, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `<service>_http_requests_total` and `<service>_http_request_duration_seconds`.
fn http_metric_names() -> (&'static str, &'static str) {
    static NAMES: OnceLock<(String, String)> = OnceLock::new();
    let (requests, duration) = NAMES.get_or_init(|| {
        let name = crate::service_name();
        (
            format!("{name}_http_requests_total"),
            format!("{name}_http_request_duration_seconds"),
        )
    });
    (requests, duration)
}
