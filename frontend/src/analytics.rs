//! The analytics page: the projection's figures and how fresh they are.

use actix_web::{http::StatusCode, web};
use askama::Template;
use platform_config::Component;
use platform_contracts::{
    analytics::{SUMMARY_PATH, Summary},
    money::format_minor,
    ops::{REPLICA_PATH, ReplicaStatus},
};
use platform_telemetry::CorrelationId;

use crate::{
    backend::{Backend, Page},
    charts::{self, Drawn},
    control_room::replica_state,
    views::render,
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
    /// Where analytics read these figures from (its replica, or the primary) and its lag.
    replica: String,
    problem: Option<String>,
    /// The projection's lag and throughput over the last 15 minutes, from Prometheus.
    charts: Vec<Drawn>,
}

async fn analytics(
    backend: web::Data<Backend>,
    chart_source: web::Data<charts::Source>,
    correlation: CorrelationId,
) -> Page {
    let (reply, replica) = tokio::join!(
        backend.get(Component::Analytics, SUMMARY_PATH, &correlation),
        backend.get(Component::Analytics, REPLICA_PATH, &correlation),
    );
    let problem = (!reply.ok()).then(|| reply.message());
    let replica = replica
        .json_if_ok::<ReplicaStatus>()?
        .map(|r| format!("{}; {} ms behind the primary", replica_state(&r), r.lag_millis))
        .unwrap_or_default();
    let page = match reply.json_if_ok::<Summary>()? {
        Some(summary) => page(summary, problem),
        // Nothing to show: no figures, and no sign that they are fresh.
        None => AnalyticsPage {
            stale: true,
            ..page(Summary::default(), problem)
        },
    };
    let charts = chart_source.draw_all(charts::ANALYTICS).await;
    let page = AnalyticsPage {
        replica,
        charts,
        ..page
    };
    Ok(render(StatusCode::OK, &page))
}

fn page(a: Summary, problem: Option<String>) -> AnalyticsPage {
    let ms = |v: Option<i64>| v.map(|ms| ms.to_string()).unwrap_or_default();
    AnalyticsPage {
        confirmed: a.totals.confirmed,
        rejected: a.totals.rejected,
        cancelled: a.totals.cancelled,
        revenue: format_minor(a.totals.revenue_minor, "EUR"),
        minutes: a
            .per_minute
            .into_iter()
            .rev()
            .take(30)
            .map(|m| {
                (
                    m.minute.format("%H:%M").to_string(),
                    m.outcome.to_string(),
                    m.orders,
                    format_minor(m.revenue_minor, "EUR"),
                )
            })
            .collect(),
        products: a
            .top_products
            .into_iter()
            .map(|p| (p.sku, p.units, format_minor(p.revenue_minor, "EUR")))
            .collect(),
        reasons: a
            .rejection_reasons
            .into_iter()
            .map(|r| (r.reason_code, r.orders))
            .collect(),
        lag_ms: ms(a.freshness.lag_ms),
        heartbeat_age_ms: ms(a.freshness.heartbeat_age_ms),
        stale: a.freshness.stale,
        replica: String::new(),
        problem,
        charts: Vec::new(),
    }
}
