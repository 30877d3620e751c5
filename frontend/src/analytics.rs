//! The analytics page: the projection's figures and how fresh they are.

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use platform_config::Component;
use platform_contracts::money::format_minor;
use platform_telemetry::CorrelationId;
use serde_json::Value;

use crate::{
    backend::Backend,
    views::{render, s},
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/analytics", web::get().to(analytics));
}

#[derive(Template)]
#[template(path = "analytics.html")]
struct AnalyticsPage {
    confirmed: i64,
    rejected: i64,
    cancelled: i64,
    revenue: String,
    minutes: Vec<(String, String, i64, String)>,
    products: Vec<(String, i64, String)>,
    reasons: Vec<(String, i64)>,
    lag_ms: String,
    heartbeat_age_ms: String,
    stale: bool,
    problem: Option<String>,
}

async fn analytics(backend: web::Data<Backend>, correlation: CorrelationId) -> HttpResponse {
    let reply = backend
        .get(Component::Analytics, "/analytics/summary", &correlation)
        .await;
    let a = &reply.body;
    let n = |v: &Value| v.as_i64().unwrap_or(0);
    let page = AnalyticsPage {
        confirmed: n(&a["totals"]["confirmed"]),
        rejected: n(&a["totals"]["rejected"]),
        cancelled: n(&a["totals"]["cancelled"]),
        revenue: format_minor(n(&a["totals"]["revenue_minor"]), "EUR"),
        minutes: a["per_minute"]
            .as_array()
            .into_iter()
            .flatten()
            .rev()
            .take(30)
            .map(|m| {
                (
                    s(&m["minute"]).chars().skip(11).take(5).collect(),
                    s(&m["outcome"]),
                    n(&m["orders"]),
                    format_minor(n(&m["revenue_minor"]), "EUR"),
                )
            })
            .collect(),
        products: a["top_products"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                (
                    s(&p["sku"]),
                    n(&p["units"]),
                    format_minor(n(&p["revenue_minor"]), "EUR"),
                )
            })
            .collect(),
        reasons: a["rejection_reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| (s(&r["reason_code"]), n(&r["orders"])))
            .collect(),
        lag_ms: s(&a["freshness"]["lag_ms"]),
        heartbeat_age_ms: s(&a["freshness"]["heartbeat_age_ms"]),
        stale: a["freshness"]["stale"] != false,
        problem: (!reply.ok()).then(|| reply.message()),
    };
    render(StatusCode::OK, &page)
}
