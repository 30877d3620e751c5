//! The `consumer.after_commit` crash point (shared/runtime/src/crash.rs): analytics, as a
//! real process, commits its count of an order and dies before acknowledging the message.
//! The broker redelivers it to the restarted process, which recognises it as processed:
//! the order is counted once, its revenue not doubled, and the queue drains.

use std::time::Duration;

use platform_config::Component;
use platform_testing::{ServiceProcess, TestDatabase, TestVhost, events, free_port, process_env};
use uuid::Uuid;

#[actix_web::test]
async fn a_crash_between_commit_and_ack_counts_the_order_once() {
    let (db, vhost) = (
        TestDatabase::create("analytics").await,
        TestVhost::create("analytics").await,
    );
    let mut env = process_env(Component::Analytics, &db, &vhost, free_port());
    env.push(("CRASH_POINTS".into(), "consumer.after_commit".into()));
    let mut analytics =
        ServiceProcess::start(Component::Analytics, env!("CARGO_BIN_EXE_analytics-service"), env);
    analytics.wait_ready(Duration::from_secs(30)).await;

    let order_id = Uuid::new_v4();
    vhost
        .publish_event(&events::order_confirmed(
            order_id,
            "crash-shopper",
            2,
            "crash-analytics",
        ))
        .await;
    analytics.wait_aborted(Duration::from_secs(15)).await;
    let counted = format!("SELECT count(*) FROM counted_orders WHERE order_id = '{order_id}'");
    assert_eq!(db.scalar(&counted).await, 1, "committed before the crash");

    analytics.restart_without(&["CRASH_POINTS"]);
    analytics.wait_ready(Duration::from_secs(30)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while vhost.queue("analytics.order-events").await["messages"] != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the redelivery was never acknowledged\n{}",
            analytics.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let redelivered = format!(
        "SELECT count(*)::bigint FROM redeliveries WHERE event_id IN (SELECT event_id FROM processed_events WHERE aggregate_id = '{order_id}')"
    );
    assert_eq!(
        db.scalar(&redelivered).await,
        1,
        "the broker redelivered the unacknowledged message"
    );
    assert_eq!(db.scalar(&counted).await, 1, "counted once");
    let units = "SELECT coalesce(sum(units), 0)::bigint FROM product_sales WHERE sku = 'notebook'";
    assert_eq!(db.scalar(units).await, 2, "two notebooks sold, not four");
    let revenue =
        "SELECT coalesce(sum(revenue_minor), 0)::bigint FROM orders_per_minute WHERE outcome = 'confirmed'";
    assert_eq!(db.scalar(revenue).await, 2800, "revenue not doubled");
    let processed = format!("SELECT count(*) FROM processed_events WHERE aggregate_id = '{order_id}'");
    assert_eq!(db.scalar(&processed).await, 1);
    analytics.kill();
}
