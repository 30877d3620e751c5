//! Named crash points in the order service (shared/runtime/src/crash.rs, docs/reliability.md).
//!
//! The order service runs as a real process, armed with one point; the checkout makes it
//! abort there (SIGABRT: no destructor, no graceful shutdown, as `kill -9`); the test starts
//! it again on the same port and database, as a supervisor would, and checks that the
//! order's outcome and each of its effects happened exactly once.

use std::time::Duration;

use platform_config::Component;
use platform_testing::ServiceProcess;
use serde_json::Value;

use crate::support::*;

const QUANTITY: i64 = 2;
const AMOUNT: i64 = 2800; // 2 notebooks at 14.00

struct Crashing {
    b: Backends,
    order: ServiceProcess,
    http: reqwest::Client,
}

/// The backends in-process, the order service as a process armed with `point` (and `extra`
/// settings).
async fn start(point: &str, extra: &[(&str, &str)]) -> Crashing {
    let knobs = Knobs::default();
    let b = Backends::start(&knobs).await;
    let mut env = b.order_env(&knobs);
    env.push(("CRASH_POINTS".into(), point.into()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut order = ServiceProcess::start(Component::Order, env!("CARGO_BIN_EXE_order-under-test"), env);
    order.wait_ready(Duration::from_secs(30)).await;
    Crashing {
        b,
        order,
        http: reqwest::Client::new(),
    }
}

impl Crashing {
    async fn place(&self, key: &str) -> Result<(u16, Value), reqwest::Error> {
        let res = self
            .http
            .post(self.order.url("/orders"))
            .header("Idempotency-Key", key)
            .bearer_auth(platform_testing::customer_token("crash-shopper"))
            .json(&order_body("crash-shopper", "notebook", QUANTITY, CARD_SUCCESS))
            .send()
            .await?;
        Ok((res.status().as_u16(), res.json().await?))
    }

    /// Started again without the crash point, as a supervisor restarts a dead process.
    async fn restart(&mut self) {
        self.order.restart_without(&["CRASH_POINTS"]);
        self.order.wait_ready(Duration::from_secs(30)).await;
    }

    /// The patient shopper: the same request with the same key until it gets an outcome.
    async fn retry_until_confirmed(&self, key: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            match self.place(key).await {
                Ok((200 | 201, order)) if order["status"] == "confirmed" => return order,
                other => assert!(
                    tokio::time::Instant::now() < deadline,
                    "no confirmed order for key {key}; last answer {other:?}\n{}",
                    self.order.log_tail(30)
                ),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// One order, and every effect of it once: stock committed once, the provider called
    /// once and the money captured once, one email sent, one analytics count, each consumer
    /// recording the confirmed event once.
    async fn assert_exactly_once(&self, id: &str) {
        let b = &self.b;
        Checkout::eventually_count(&b.order_db, "SELECT count(*) FROM orders", 1).await;
        let committed =
            format!("SELECT count(*) FROM reservations WHERE order_id = '{id}' AND status = 'committed'");
        Checkout::eventually_count(&b.inventory_db, &committed, 1).await;
        let sold = "SELECT sold::bigint FROM products WHERE sku = 'notebook'";
        Checkout::eventually_count(&b.inventory_db, sold, QUANTITY).await;
        let captured = format!(
            "SELECT count(*) FROM payments WHERE order_id = '{id}' AND status = 'captured' AND provider_calls = 1"
        );
        Checkout::eventually_count(&b.payment_db, &captured, 1).await;
        let money = "SELECT captured_minor FROM accounts WHERE customer_id = 'crash-shopper'";
        Checkout::eventually_count(&b.payment_db, money, AMOUNT).await;
        let sent = format!("SELECT count(*) FROM emails WHERE order_id = '{id}' AND status = 'sent'");
        Checkout::eventually_count(&b.email_db, &sent, 1).await;
        let counted = format!("SELECT count(*) FROM counted_orders WHERE order_id = '{id}'");
        Checkout::eventually_count(&b.analytics_db, &counted, 1).await;
        // Settled: give a duplicate time to do harm, then look again.
        tokio::time::sleep(Duration::from_secs(1)).await;
        for (db, sql, expected) in [
            (&b.order_db, "SELECT count(*) FROM orders".to_string(), 1),
            (&b.inventory_db, sold.to_string(), QUANTITY),
            (&b.payment_db, money.to_string(), AMOUNT),
            (
                &b.email_db,
                format!("SELECT count(*) FROM emails WHERE order_id = '{id}'"),
                1,
            ),
            (&b.analytics_db, counted.clone(), 1),
        ] {
            assert_eq!(Checkout::count(db, &sql).await, expected, "{sql}");
        }
        for (db, consumer) in [
            (&b.inventory_db, "inventory"),
            (&b.payment_db, "payment"),
            (&b.email_db, "email"),
            (&b.analytics_db, "analytics"),
        ] {
            let sql = format!(
                "SELECT count(*) FROM processed_events WHERE consumer = '{consumer}' AND aggregate_id = '{id}' AND event_type = 'order.confirmed'"
            );
            assert_eq!(Checkout::count(db, &sql).await, 1, "{sql}");
        }
    }

    async fn stop(mut self) {
        self.order.kill();
        self.b.stop().await;
    }
}

/// The checkout dies at `point`, before the shopper gets an answer; after the restart,
/// the shopper's retry with the same key finds one confirmed order with every effect once.
async fn crash_before_the_answer(point: &str) {
    let mut c = start(point, &[]).await;
    let key = key();
    assert!(c.place(&key).await.is_err(), "the process died before answering");
    c.order.wait_aborted(Duration::from_secs(10)).await;
    c.restart().await;
    let order = c.retry_until_confirmed(&key).await;
    c.assert_exactly_once(order["id"].as_str().unwrap()).await;
    c.stop().await;
}

/// Payment authorized, the order not yet confirmed. The shopper gets no answer; after the
/// restart the reconciler asks payment again with the same order id, gets the same
/// authorization (the provider is not called again), and confirms once.
#[actix_web::test]
async fn a_crash_after_the_authorization_confirms_the_order_once() {
    crash_before_the_answer("order.after_authorize").await;
}

/// The order and its event committed, the response never sent. The shopper's retry with
/// the same Idempotency-Key gets the same confirmed order, not a second one.
#[actix_web::test]
async fn a_crash_after_the_confirm_commit_answers_the_retry_with_the_same_order() {
    crash_before_the_answer("order.after_confirm_commit").await;
}

/// The relay's batch is confirmed by the broker but not marked published. After the
/// restart the relay publishes it again; every consumer sees the event twice and applies it
/// once.
#[actix_web::test]
async fn a_crash_between_publish_and_mark_publishes_again_and_every_effect_happens_once() {
    // No heartbeat during the test: it goes through the outbox too, and the relay would
    // crash on it before the order's event exists.
    let mut c = start("relay.after_publish", &[("HEARTBEAT_INTERVAL_MS", "3600000")]).await;
    let key = key();
    // The relay may die before the response is out (the commit's NOTIFY wakes it at once):
    // either way the shopper retries with the key.
    if let Ok((status, order)) = c.place(&key).await {
        assert_eq!(
            (status, order["status"].as_str()),
            (201, Some("confirmed")),
            "{order:#}"
        );
    }
    c.order.wait_aborted(Duration::from_secs(10)).await;
    c.restart().await;
    let order = c.retry_until_confirmed(&key).await;
    c.assert_exactly_once(order["id"].as_str().unwrap()).await;
    c.stop().await;
}
