//! Metrics move as the platform works. In a test binary of its own: the metrics recorder
//! is global to a process, and other tests placing orders at the same time would move the
//! same counters. Also here: the dashboard and the alerting rules name only metrics the
//! code exports (metric_names.rs), checked against this live scrape.
mod metric_names;
mod support;

use std::collections::BTreeMap;

use futures_util::future::join_all;
use support::*;

#[actix_web::test]
async fn metrics_move_as_the_platform_works() {
    let c = Checkout::start().await;
    let scrape = |s: &'static str| {
        let url = match s {
            "order" => c.order.url("/metrics"),
            _ => c.inventory.url("/metrics"),
        };
        let http = c.http.clone();
        async move { http.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let before = scrape("order").await;
    let created = r#"route="/orders""#;
    let posts_before = metric(
        &before,
        "http_requests_total",
        &[r#"service="order""#, created, r#"status="201""#],
    );
    let requests: Vec<_> = (0..3)
        .map(|i| (key(), order_body(&format!("m{i}"), "mug", 1, CARD_SUCCESS)))
        .collect();
    let ids: Vec<String> = join_all(requests.iter().map(|(k, b)| c.place(k, b)))
        .await
        .into_iter()
        .map(|r| {
            r.headers()["location"]
                .to_str()
                .unwrap()
                .trim_start_matches("/orders/")
                .to_string()
        })
        .collect();
    for id in &ids {
        c.eventually(&c.inventory, &format!("/reservations/{id}"), |r| {
            r["status"] == "committed"
        })
        .await;
        // Captured by payment's consumer, so it has seen the event (its lag is read below).
        c.eventually(&c.payment, &format!("/payments/{id}"), |p| {
            p["status"] == "captured"
        })
        .await;
    }
    c.eventually(&c.order, "/ops/outbox", |o| {
        o["backlog"] == 0 && o["published_last_minute"].as_i64() >= Some(3)
    })
    .await;
    // A heartbeat has reached analytics (published every 500 ms in tests): the gauge that
    // Prometheus' projection_stale rule reads is set.
    c.eventually(&c.analytics, "/analytics/summary", |s| {
        s["freshness"]["last_heartbeat_at"].is_string()
    })
    .await;

    let after = scrape("order").await;
    assert_eq!(
        metric(
            &after,
            "http_requests_total",
            &[r#"service="order""#, created, r#"status="201""#]
        ) - posts_before,
        3.0
    );
    assert!(
        metric(
            &after,
            "http_request_duration_seconds_count",
            &[r#"service="order""#, created]
        ) >= 3.0
    );
    assert!(metric(&after, "outbox_published_total", &[]) >= 3.0);
    assert!(
        metric(
            &after,
            "consumer_messages_total",
            &[r#"consumer="inventory""#, r#"outcome="handled""#]
        ) >= 3.0
    );
    assert!(metric(&after, "consumer_lag_seconds_count", &[r#"consumer="payment""#]) >= 3.0);
    assert!(after.contains("queue_messages{"), "queue gauges exported");
    assert!(after.contains("outbox_backlog"), "outbox gauge exported");
    let heartbeat = metric(&after, "analytics_last_heartbeat_timestamp_seconds", &[]);
    let age = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        - heartbeat;
    assert!((0.0..30.0).contains(&age), "the newest heartbeat is {age} s old");

    // What the platform really serves is what the source scan says it exports (so the
    // dashboard check below it sees every metric), each with its kind: a histogram as a
    // histogram, with buckets to take quantiles from.
    let declared = metric_names::declared();
    let served: BTreeMap<&str, &str> = after
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    assert!(served.len() >= 15, "a scrape with only {served:?}");
    for (name, kind) in &served {
        let Some((declared_kind, _)) = declared.get(*name) else {
            panic!(
                "the platform serves {name} ({kind}), which the source scan does not find (metric_names.rs)"
            )
        };
        assert_eq!(*kind, declared_kind.exposition(), "the kind of {name}");
    }
    // And the dashboard's and rules' names that a checkout brings out are among them.
    let series = metric_names::series_names(&declared);
    let queries = [metric_names::dashboard_queries(), metric_names::rule_queries()].concat();
    let (mut live, mut named) = (BTreeMap::new(), 0);
    for query in &queries {
        for name in metric_names::promql_metrics(query) {
            let base = series[&name].as_str();
            named += 1;
            if served.contains_key(base) {
                *live.entry(base).or_insert(0) += 1;
            }
        }
    }
    eprintln!(
        "served {} metrics, each one the scan found ({} declared); {} of the {named} names in the dashboard's and rules' {} queries served after a checkout: {:?}",
        served.len(),
        declared.len(),
        live.values().sum::<usize>(),
        queries.len(),
        live.keys().collect::<Vec<_>>()
    );
    assert!(
        live.values().sum::<usize>() > named / 2,
        "only {live:?} of {named} names were served"
    );
    c.stop().await;
}

/// Every metric a dashboard panel or an alerting rule queries is one the code exports
/// (`metrics::counter!` / `gauge!` / `histogram!`, with `_bucket`, `_sum` and `_count` for a
/// histogram). Needs no platform: a rename fails here, before any panel goes empty.
#[test]
fn the_dashboard_and_the_alert_rules_query_only_exported_metrics() {
    let series = metric_names::series_names(&metric_names::declared());
    let dashboard = metric_names::dashboard_queries();
    let rules = metric_names::rule_queries();
    assert!(
        dashboard.len() >= 20,
        "{} queries in {}",
        dashboard.len(),
        metric_names::DASHBOARD
    );
    assert!(
        rules.len() >= 6,
        "{} rules in {}",
        rules.len(),
        metric_names::ALERT_RULES
    );
    let unknown = metric_names::unknown_names(&dashboard, &series);
    assert!(
        unknown.is_empty(),
        "{} queries metrics no code exports: {unknown:#?}",
        metric_names::DASHBOARD
    );
    let unknown = metric_names::unknown_names(&rules, &series);
    assert!(
        unknown.is_empty(),
        "{} queries metrics no code exports: {unknown:#?}",
        metric_names::ALERT_RULES
    );
    // The storefront's live charts (frontend/src/charts.rs) too.
    let charts: Vec<String> = [storefront::charts::OPS, storefront::charts::ANALYTICS]
        .iter()
        .flat_map(|charts| charts.iter())
        .flat_map(|chart| chart.series.iter().map(|s| s.query.to_string()))
        .collect();
    assert!(charts.len() >= 10, "{} chart queries", charts.len());
    let unknown = metric_names::unknown_names(&charts, &series);
    assert!(
        unknown.is_empty(),
        "frontend/src/charts.rs queries metrics no code exports: {unknown:#?}"
    );
}
