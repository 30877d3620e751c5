//! The contract step of order.confirmed's money change (docs/schema-evolution.md): v2 is
//! deployed while v1 events still wait in the order service's outbox (written before the
//! deploy, published after it) and in a consumer's dead-letter queue (replayed after it).
//! Both kinds are processed by the v2 consumers, through the upcaster, with the right
//! amounts; `/ops/contracts` counts them.

use std::time::Duration;

use lapin::{BasicProperties, Connection, ConnectionProperties, options::BasicPublishOptions};
use platform_contracts::evolution::ContractUse;
use serde_json::{Value, json};

use crate::{fanout::assert_fanned_out, support::*};

/// The v1 payload, as a producer from before the expand step wrote it, of a v2 payload.
const V1_BEFORE_EXPAND: &str = r#"
    jsonb_set(
        jsonb_set(envelope, '{schema_version}', '1'),
        '{payload}',
        (envelope->'payload') - 'total' - 'lines' || jsonb_build_object(
            'total_minor', envelope#>'{payload,total,amount_minor}',
            'currency', envelope#>'{payload,total,currency}',
            'lines', (SELECT jsonb_agg(jsonb_build_object(
                          'sku', l->'sku', 'quantity', l->'quantity',
                          'unit_price_minor', l#>'{unit_price,amount_minor}'))
                      FROM jsonb_array_elements(envelope#>'{payload,lines}') l)))"#;

#[actix_web::test]
async fn v1_events_in_the_outbox_and_in_a_dead_letter_queue_are_processed_by_v2_consumers() {
    let c = Checkout::start().await;

    // In the outbox: the relay is held (a deploy in progress), the order is confirmed, and
    // its event is rewritten into what the previous version would have written.
    assert_eq!(c.admin_post(&c.order, "/admin/relay/pause").await.status(), 200);
    let res = c
        .http
        .post(c.order.url("/orders"))
        .header("Idempotency-Key", key())
        .header("X-Correlation-Id", "v1-in-outbox")
        .json(&order_body("vera", "mug", 2, CARD_SUCCESS))
        .send()
        .await
        .unwrap();
    let order: Value = res.json().await.unwrap();
    let id = order["id"].as_str().unwrap().to_string();
    assert_eq!(order["status"], "confirmed", "{order:#}");
    let rewrite = format!(
        "WITH r AS (UPDATE outbox SET envelope = {V1_BEFORE_EXPAND} \
         WHERE aggregate_id = '{id}' AND event_type = 'order.confirmed' AND published_at IS NULL \
         RETURNING envelope) SELECT count(*) FROM r WHERE NOT envelope->'payload' ? 'total' \
         AND envelope->>'schema_version' = '1'"
    );
    assert_eq!(
        c.order_db.scalar(&rewrite).await,
        1,
        "one v1 event waits in the outbox"
    );
    assert_eq!(c.admin_post(&c.order, "/admin/relay/resume").await.status(), 200);
    // Every consumer applies it, with the amounts the v1 fields carried (2 mugs at 18.00).
    assert_fanned_out(&c, &id, "v1-in-outbox", 2, 3600).await;
    let emails = c.get(&c.email, &format!("/emails?order_id={id}")).await;
    assert!(
        emails[0]["body_html"]
            .as_str()
            .unwrap_or_default()
            .contains("36.00 EUR"),
        "the email shows the v1 total: {emails:#}"
    );

    // In a dead-letter queue: a v1 event analytics dead-lettered before the deploy.
    let dead_id = uuid::Uuid::now_v7();
    let order_id = uuid::Uuid::new_v4();
    let v1 = json!({
        "event_id": dead_id, "event_type": "order.confirmed", "schema_version": 1,
        "occurred_at": "2026-12-01T09:00:00Z", "correlation_id": "v1-in-dlq", "causation_id": null,
        "producer": "order", "aggregate_id": order_id,
        "payload": { "order_id": order_id, "customer_id": "walt", "currency": "EUR", "total_minor": 2500,
                     "lines": [{ "sku": "plant", "quantity": 1, "unit_price_minor": 2500 }],
                     "confirmed_at": "2026-12-01T09:00:00Z" }
    });
    dead_letter(&c, "analytics.order-events.dlq", &v1).await;
    let replayed = c
        .admin_post(
            &c.analytics,
            &format!("/admin/dead-letters/replay?event_id={dead_id}"),
        )
        .await;
    assert_eq!(replayed.status(), 200);
    let counted = c
        .eventually(&c.analytics, &format!("/analytics/orders/{order_id}"), |a| {
            a["outcome"] == "confirmed"
        })
        .await;
    assert_eq!(counted["total_minor"], 2500, "{counted:#}");

    // Both were upcast, and both read the old fields (they had no others).
    let contracts: ContractUse = serde_json::from_value(c.get(&c.analytics, "/ops/contracts").await).unwrap();
    let upcast = contracts
        .upcasts
        .iter()
        .find(|u| u.event_type == "order.confirmed")
        .unwrap();
    assert!(upcast.from_version == 1 && upcast.count >= 2, "{contracts:#?}");
    assert!(
        contracts
            .old_field_reads
            .iter()
            .any(|r| r.field == "total_minor" && r.count >= 2),
        "{contracts:#?}"
    );
    c.stop().await;
}

/// Puts `envelope` on a dead-letter queue as the consumer does (the original event, with
/// the reason in a header), directly, through the default exchange.
async fn dead_letter(c: &Checkout, dlq: &str, envelope: &Value) {
    let conn = Connection::connect(&c.vhost.amqp_url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let mut headers = lapin::types::FieldTable::default();
    headers.insert(
        "x-death-reason".into(),
        lapin::types::AMQPValue::LongString("dead-lettered before the v2 deploy".into()),
    );
    let props = BasicProperties::default()
        .with_message_id(envelope["event_id"].as_str().unwrap().into())
        .with_delivery_mode(2)
        .with_headers(headers);
    channel
        .basic_publish(
            "".into(),
            dlq.into(),
            BasicPublishOptions::default(),
            &serde_json::to_vec(envelope).unwrap(),
            props,
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let _ = conn.close(200, "bye".into()).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while c.vhost.queue(dlq).await["messages"].as_u64().unwrap_or(0) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{dlq} never showed the message"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
