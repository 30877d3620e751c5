//! Supervision that really restarts (shared/runtime/src/supervisor.rs): every long-running
//! loop of the platform is made to panic once, and is seen to come back and do its work.
//!
//! In a test binary of its own: crash points and the metrics recorder are global to a
//! process, and this test arms a panic in every loop of every service in it.
mod support;

use std::time::Duration;

use platform_runtime::crash;
use serde_json::Value;
use support::*;

/// Every supervised loop the five services run, by the name it is counted under.
const PERIODIC: &[&str] = &[
    "outbox-relay",
    "reconciler",
    "compensation-worker",
    "heartbeat",
    "ops-monitor",
    "reservation-sweeper",
    "email-sender",
    "backpressure",
];
const TASKS: &[&str] = &["outbox-listener", "broker-keeper"];
const CONSUMERS: &[&str] = &["inventory", "payment", "email", "analytics"];

fn actors() -> Vec<String> {
    PERIODIC
        .iter()
        .chain(TASKS)
        .map(|a| a.to_string())
        .chain(CONSUMERS.iter().map(|c| format!("consumer:{c}")))
        .collect()
}

#[actix_web::test]
async fn every_long_running_loop_that_panics_is_restarted_and_works_again() {
    for actor in actors() {
        crash::arm(
            &format!("{}{actor}", crash::LOOP_PREFIX),
            crash::Action::Panic,
            Some(1),
        );
    }
    let c = Checkout::start().await;
    let scrape = || async {
        c.http
            .get(c.order.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };

    // Each loop's first life (or pass) panics, is counted, and the loop is started again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = scrape().await;
        let missing: Vec<String> = actors()
            .into_iter()
            .filter(|a| metric(&text, "actor_restarts_total", &[&format!("actor=\"{a}\"")]) < 1.0)
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never restarted: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // ...and works again. The critical path and the fan-out: relay, listener, broker
    // keeper and all four consumers, plus the email sender.
    let res = c
        .place(&key(), &order_body("sam", "notebook", 1, CARD_SUCCESS))
        .await;
    let order: Value = res.json().await.unwrap();
    assert_eq!(order["status"], "confirmed", "{order:#}");
    let id = order["id"].as_str().unwrap();
    c.eventually(&c.inventory, &format!("/reservations/{id}"), |r| {
        r["status"] == "committed"
    })
    .await;
    c.eventually(&c.payment, &format!("/payments/{id}"), |p| {
        p["status"] == "captured"
    })
    .await;
    c.eventually(&c.email, &format!("/emails?order_id={id}"), |e| {
        e[0]["status"] == "sent"
    })
    .await;
    c.eventually(&c.analytics, &format!("/analytics/orders/{id}"), |a| {
        a["outcome"] == "confirmed"
    })
    .await;
    // The reconciler: an authorization that times out is finished by it.
    let slow: Value = c
        .place(&key(), &order_body("tim", "mug", 1, CARD_TIMEOUT))
        .await
        .json()
        .await
        .unwrap();
    let slow = c
        .wait_order(slow["id"].as_str().unwrap(), Duration::from_secs(20), terminal)
        .await;
    assert_eq!(slow["status"], "confirmed", "{slow:#}");
    // The compensation worker: a declined card's reservation is released by it.
    let declined: Value = c
        .place(&key(), &order_body("dee", "mug", 1, CARD_DECLINED))
        .await
        .json()
        .await
        .unwrap();
    let declined_id = declined["id"].as_str().unwrap();
    c.eventually(&c.inventory, &format!("/reservations/{declined_id}"), |r| {
        r["status"] == "released"
    })
    .await;

    // Every periodic job passes successfully again, and nothing restarted twice: the one
    // panic each was armed with, nothing more.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let text = scrape().await;
        let idle: Vec<&str> = PERIODIC
            .iter()
            .copied()
            .filter(|job| {
                metric(
                    &text,
                    "background_passes_total",
                    &[&format!("job=\"{job}\""), "outcome=\"ok\""],
                ) < 1.0
            })
            .collect();
        if idle.is_empty() {
            for actor in actors() {
                let restarts = metric(&text, "actor_restarts_total", &[&format!("actor=\"{actor}\"")]);
                assert_eq!(restarts, 1.0, "{actor} restarted {restarts} times");
            }
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no successful pass since the panic: {idle:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    c.stop().await;
}
