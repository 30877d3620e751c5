//! The contract step of order.confirmed's money change (docs/schema-evolution.md): v2 is
//! deployed while v1 events still wait in the order service's outbox (written before the
//! deploy, published after it) and in a consumer's dead-letter queue (replayed after it).
//! Both kinds are processed by the v2 consumers, through the upcaster, with the right
//! amounts; `/ops/contracts` counts them.

use std::time::Duration;

use lapin::{BasicProperties, Connection, ConnectionProperties, options::BasicPublishOptions};
use platform_contracts::evolution::ContractUse;
use platform_testing::TEST_ADMIN_TOKEN;
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
        .bearer_auth(platform_testing::customer_token("vera"))
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

/// "Deploy a breaking change": analytics is switched to a strict reader of the renamed
/// v1 money fields. Checkouts go on; email (tolerant) sends; analytics dead-letters every
/// order.confirmed, naming the missing field, and the alert fires. The fix (back to the
/// tolerant reader) and a replay of the dead letters count each order once.
#[actix_web::test]
async fn a_strict_reader_of_a_renamed_field_dead_letters_and_a_replay_after_the_fix_recovers() {
    let c = Checkout::start().await;
    let reader = |mode: &'static str| {
        c.http
            .put(c.analytics.url("/admin/consumers/analytics/reader"))
            .bearer_auth(TEST_ADMIN_TOKEN)
            .json(&json!({ "mode": mode }))
            .send()
    };
    assert_eq!(reader("strict_v1").await.unwrap().status(), 200);
    let consumers = c.admin_get(&c.analytics, "/admin/consumers").await;
    assert_eq!(consumers[0]["reader"], "strict_v1", "{consumers:#}");

    let mut ids = Vec::new();
    for customer in ["sam", "sue"] {
        let res = c
            .place(&key(), &order_body(customer, "socks", 1, CARD_SUCCESS))
            .await;
        let order: Value = res.json().await.unwrap();
        assert_eq!(
            order["status"], "confirmed",
            "the checkout does not notice: {order:#}"
        );
        ids.push(order["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        c.eventually(&c.email, &format!("/emails?order_id={id}"), |e| {
            e[0]["status"] == "sent"
        })
        .await;
    }
    let dead = c
        .eventually_admin(&c.analytics, "/admin/dead-letters", |l| {
            l.as_array().is_some_and(|a| {
                a.iter()
                    .filter(|m| m["event_type"] == "order.confirmed")
                    .filter(|m| {
                        let reason = m["reason"].as_str().unwrap_or_default();
                        reason.contains("strict v1 reader") && reason.contains("missing field")
                    })
                    .count()
                    == 2
            })
        })
        .await;
    c.eventually(&c.order, "/ops/alerts", |a| {
        a.to_string().contains("dead_letters")
    })
    .await;
    for id in &ids {
        let counted = c.get(&c.analytics, &format!("/analytics/orders/{id}")).await;
        assert_ne!(
            counted["outcome"], "confirmed",
            "not counted while dead-lettered: {dead:#}"
        );
    }

    // The fix is deployed; the dead letters are replayed (twice: a replay is idempotent).
    assert_eq!(reader("tolerant").await.unwrap().status(), 200);
    for _ in 0..2 {
        assert_eq!(
            c.admin_post(&c.analytics, "/admin/dead-letters/replay")
                .await
                .status(),
            200
        );
    }
    for id in &ids {
        c.eventually(&c.analytics, &format!("/analytics/orders/{id}"), |a| {
            a["outcome"] == "confirmed"
        })
        .await;
    }
    c.eventually_queue_empty("analytics.order-events.dlq").await;
    let counted = Checkout::count(
        &c.analytics_db,
        &format!(
            "SELECT count(*) FROM counted_orders WHERE order_id IN ('{}', '{}')",
            ids[0], ids[1]
        ),
    )
    .await;
    assert_eq!(counted, 2, "each order counted once");
    c.stop().await;
}
