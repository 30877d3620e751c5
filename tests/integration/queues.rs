//! Queues tell the truth: metrics, queue depth and oldest-message age, alerts, backpressure,
//! and the journey of one order across every service.

use std::time::Duration;

use crate::support::*;
use serde_json::Value;

#[actix_web::test]
async fn a_stopped_consumer_shows_as_growing_depth_and_age_and_raises_then_clears_the_alert() {
    let c = Checkout::start_with(Knobs {
        alert_queue_oldest_secs: 2,
        ..Knobs::default()
    })
    .await;
    let paused = c.admin_post(&c.email, "/admin/consumers/email/pause").await;
    assert_eq!(paused.status(), 200);
    for i in 0..3 {
        assert_eq!(
            c.place(&key(), &order_body(&format!("q{i}"), "mug", 1, CARD_SUCCESS))
                .await
                .status(),
            201
        );
    }
    let email_queue = |s: &Value| -> Value {
        s["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == "email.order-events")
            .cloned()
            .unwrap_or_default()
    };
    // Depth grows and the oldest message ages, although nobody consumes: the age comes
    // from the message at the head of the queue, not from consumer activity.
    let snapshot = c
        .eventually(&c.order, "/ops/queues", |s| {
            let q = email_queue(s);
            q["messages"].as_u64() >= Some(3)
                && q["oldest_age_secs"].as_f64() >= Some(3.0)
                && q["consumers"] == 0
        })
        .await;
    assert_eq!(email_queue(&snapshot)["role"], "main");
    let alerts = c
        .eventually(&c.order, "/ops/alerts", |a| {
            a["active"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["name"] == "queue_backlog:email.order-events")
        })
        .await;
    assert_eq!(alerts["thresholds"]["queue_oldest_secs"], 2);

    // Restart the consumer: the backlog drains and the alert clears by itself.
    c.admin_post(&c.email, "/admin/consumers/email/resume").await;
    c.eventually(&c.order, "/ops/alerts", |a| {
        a["active"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["name"] != "queue_backlog:email.order-events")
    })
    .await;
    c.eventually(&c.email, "/emails", |e| e.as_array().unwrap().len() == 3)
        .await;
    c.stop().await;
}

#[actix_web::test]
async fn the_journey_of_a_confirmed_order_shows_every_service_with_one_correlation_id() {
    let c = Checkout::start().await;
    let order: Value = c
        .http
        .post(c.order.url("/orders"))
        .header("Idempotency-Key", key())
        .header("X-Correlation-Id", "journey-corr")
        .bearer_auth(platform_testing::customer_token("alice"))
        .json(&order_body("alice", "desk-lamp", 1, CARD_SUCCESS))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = order["id"].as_str().unwrap();
    let journey = c
        .eventually(&c.order, &format!("/orders/{id}/journey"), |j| j["done"] == true)
        .await;
    assert_eq!(journey["correlation_consistent"], true, "{journey:#}");
    let services: Vec<&str> = journey["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service"].as_str().unwrap())
        .collect();
    for service in ["order", "inventory", "payment", "email", "analytics"] {
        assert!(
            services.contains(&service),
            "{service} in the journey: {journey:#}"
        );
    }
    for step in journey["steps"].as_array().unwrap() {
        if let Some(corr) = step["correlation_id"].as_str() {
            assert_eq!(corr, "journey-corr", "{step}");
        }
    }
    assert!(journey["pending"].as_array().unwrap().is_empty());

    // A journey that is not done says what is pending and who owns it.
    c.admin_post(&c.analytics, "/admin/consumers/analytics/pause")
        .await;
    let second = c
        .place(&key(), &order_body("bob", "desk-lamp", 1, CARD_SUCCESS))
        .await;
    let sid = second.headers()["location"].to_str().unwrap().to_string();
    let waiting = c
        .eventually(&c.order, &format!("{sid}/journey"), |j| {
            j["pending"]
                .as_array()
                .is_some_and(|p| p.len() == 1 && p[0]["owner"] == "analytics")
        })
        .await;
    assert_eq!(waiting["done"], false);
    c.stop().await;
}

#[actix_web::test]
async fn backpressure_sheds_analytics_while_checkouts_flow_and_releases_after() {
    let c = Checkout::start_with(Knobs {
        backpressure_max_depth: 3,
        ..Knobs::default()
    })
    .await;
    c.admin_post(&c.inventory, "/admin/consumers/inventory/pause")
        .await;
    for i in 0..6 {
        let res = c
            .place(&key(), &order_body(&format!("b{i}"), "mug", 1, CARD_SUCCESS))
            .await;
        assert_eq!(res.status(), 201, "checkouts keep flowing");
    }
    let engaged = c
        .eventually(&c.analytics, "/ops/backpressure", |b| b["engaged"] == true)
        .await;
    assert!(
        engaged["reason"]
            .as_str()
            .unwrap()
            .contains("inventory.order-events")
    );
    assert_eq!(engaged["consumer_paused"], true);

    c.admin_post(&c.inventory, "/admin/consumers/inventory/resume")
        .await;
    c.eventually(&c.analytics, "/ops/backpressure", |b| {
        b["engaged"] == false && b["consumer_paused"] == false
    })
    .await;
    c.eventually(&c.analytics, "/analytics/summary", |s| {
        s["totals"]["confirmed"] == 6
    })
    .await;
    c.stop().await;
}

#[actix_web::test]
async fn a_saturated_checkout_answers_503_with_retry_after_instead_of_queueing() {
    let c = Checkout::start_with(Knobs {
        checkout_max_in_flight: 1,
        ..Knobs::default()
    })
    .await;
    let (slow_key, slow_body) = (key(), order_body("s1", "mug", 1, CARD_TIMEOUT));
    let (slow, shed) = tokio::join!(c.place(&slow_key, &slow_body), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.place(&key(), &order_body("s2", "mug", 1, CARD_SUCCESS)).await
    });
    assert_eq!(slow.status(), 202);
    assert_eq!(shed.status(), 503);
    assert_eq!(shed.headers()["retry-after"], "1");
    // Capacity is back once the first checkout returned.
    assert_eq!(
        c.place(&key(), &order_body("s3", "mug", 1, CARD_SUCCESS))
            .await
            .status(),
        201
    );
    c.stop().await;
}

#[actix_web::test]
async fn a_failing_dependency_opens_the_circuit_and_checkout_fails_fast_with_503() {
    let c = Checkout::start().await;
    // Payment answers 500 to every authorization: the dependency itself is sick.
    c.fault(&c.payment, "authorize", serde_json::json!({ "mode": "error" }))
        .await;
    let mut statuses = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    for i in 0.. {
        if statuses.contains(&503) || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let res = c
            .place(&key(), &order_body(&format!("cb{i}"), "mug", 1, CARD_SUCCESS))
            .await;
        let status = res.status().as_u16();
        if status == 503 {
            assert_eq!(res.headers()["retry-after"], "2");
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["error"]["code"], "dependency_unavailable");
            assert!(body["error"]["message"].as_str().unwrap().contains("payment"));
        }
        statuses.push(status);
    }
    // First the failures are absorbed (202: the reconciler will retry); once fewer than half
    // of the calls in the window succeed, the circuit opens and checkouts are refused at
    // once, before anything is reserved.
    assert_eq!(statuses[0], 202);
    assert!(statuses.contains(&503), "the circuit opened: {statuses:?}");
    let first_open = statuses.iter().position(|s| *s == 503).unwrap();
    assert!(
        first_open >= 10,
        "not before enough calls were seen: {statuses:?}"
    );
    c.stop().await;
}
