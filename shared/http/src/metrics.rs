//! Prometheus metrics, through the `metrics` facade: code anywhere records counters, gauges
//! and histograms (`metrics::counter!(...)`); this module installs the exporter once per
//! process and serves `GET /metrics`.
//!
//! Every request is counted and timed per route (the route *pattern*, `/orders/{id}`, never
//! the raw path: one time series per order id would exhaust Prometheus).

use std::{sync::OnceLock, time::Instant};

use actix_web::{
    Error, HttpResponse,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
    web,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The name of the service, as the `service` label of the HTTP metrics.
#[derive(Clone, Copy)]
pub struct ServiceName(pub &'static str);

/// Installs the global recorder (once; later calls return the same handle).
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let latency = [
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let lag = [
            0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0, 1800.0,
        ];
        PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), &latency)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("handle_seconds".into()), &latency))
            .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("lag_seconds".into()), &lag))
            .expect("bucket lists are non-empty")
            .install_recorder()
            .unwrap_or_else(|e| panic!("cannot install the metrics recorder: {e}"))
    })
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(render));
}

async fn render() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(install().render())
}

/// Middleware: request count and latency per service, method, route and status.
pub async fn record_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let service = req
        .app_data::<web::Data<ServiceName>>()
        .map(|s| s.0)
        .unwrap_or("unknown");
    let res = next.call(req).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    let status = res.status().as_u16().to_string();
    let labels = [
        ("service", service.to_string()),
        ("method", method),
        ("route", route),
    ];
    metrics::histogram!("http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    let mut counted = labels.to_vec();
    counted.push(("status", status));
    metrics::counter!("http_requests_total", &counted).increment(1);
    Ok(res)
}
