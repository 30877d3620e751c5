//! Metrics move as the platform works. In a test binary of its own: the metrics recorder
//! is global to a process, and other tests placing orders at the same time would move the
//! same counters.
mod support;

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
    }
    c.eventually(&c.order, "/ops/outbox", |o| {
        o["backlog"] == 0 && o["published_last_minute"].as_i64() >= Some(3)
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
    c.stop().await;
}
