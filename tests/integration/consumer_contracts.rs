//! The producer's side of the consumer-driven contracts: events the order service's own
//! code produced (a confirmed, a rejected and a cancelled checkout, and its heartbeat), read
//! back from its outbox, checked against what every consumer declares it reads
//! (`shared/contracts/src/consumers.rs`). A field removed or renamed while a consumer still
//! reads it fails here, naming the consumer.

use std::time::Duration;

use platform_contracts::consumers::{broken_expectations, read_types};
use serde_json::Value;

use crate::support::*;

#[actix_web::test]
async fn events_the_order_service_produces_satisfy_every_consumer() {
    let c = Checkout::start_with(Knobs {
        order_deadline: Duration::from_secs(3),
        ..Knobs::default()
    })
    .await;
    // confirmed, rejected (declined), cancelled (no definite outcome by the deadline)
    for card in [CARD_SUCCESS, CARD_DECLINED, CARD_RATE_LIMITED] {
        let res = c.place(&key(), &order_body("alice", "desk-lamp", 1, card)).await;
        let order: Value = res.json().await.unwrap();
        c.wait_order(order["id"].as_str().unwrap(), Duration::from_secs(15), terminal)
            .await;
    }
    for event_type in read_types() {
        let sql = format!(
            "SELECT envelope::text FROM outbox WHERE event_type = '{event_type}' ORDER BY created_at DESC LIMIT 1"
        );
        // The heartbeat is published every 500 ms in tests: wait for one.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let envelope = loop {
            let found = c.order_db.text(&format!("SELECT COALESCE(({sql}), '')")).await;
            if !found.is_empty() {
                break found;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the order service produced no {event_type}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let envelope: Value = serde_json::from_str(&envelope).unwrap();
        let broken = broken_expectations(&envelope);
        assert!(
            broken.is_empty(),
            "{event_type} as the order service produces it breaks its consumers:\n{}",
            broken.join("\n")
        );
    }
    c.stop().await;
}
