//! The secondary path, against real PostgreSQL and RabbitMQ: outbox, relay, idempotent
//! consumers, retries and dead letters, and the effects in every service.

use std::time::Duration;

use crate::support::*;
use futures_util::future::join_all;
use lapin::{Connection, ConnectionProperties, options::BasicPublishOptions};
use platform_contracts::{EXCHANGE, Envelope};
use serde_json::{Value, json};

async fn place_with_correlation(c: &Checkout, correlation: &str, body: &Value) -> Value {
    let res = c
        .http
        .post(c.order.url("/orders"))
        .header("Idempotency-Key", key())
        .header("X-Correlation-Id", correlation)
        .bearer_auth(platform_testing::customer_token(
            body["customer_id"].as_str().unwrap_or_default(),
        ))
        .json(body)
        .send()
        .await
        .unwrap();
    res.json().await.unwrap()
}

/// Every effect of one confirmed order, once, with the checkout's correlation id.
pub(crate) async fn assert_fanned_out(c: &Checkout, id: &str, correlation: &str, quantity: i64, amount: i64) {
    let reservation = c
        .eventually(&c.inventory, &format!("/reservations/{id}"), |r| {
            r["status"] == "committed"
        })
        .await;
    assert_eq!(reservation["correlation_id"], correlation);
    let payment = c
        .eventually(&c.payment, &format!("/payments/{id}"), |p| {
            p["status"] == "captured"
        })
        .await;
    assert_eq!(payment["amount_minor"], amount);
    let emails = c
        .eventually(&c.email, &format!("/emails?order_id={id}"), |e| {
            e[0]["status"] == "sent"
        })
        .await;
    assert_eq!(
        emails.as_array().unwrap().len(),
        1,
        "exactly one email: {emails:#}"
    );
    assert_eq!(emails[0]["kind"], "order_confirmed");
    assert_eq!(emails[0]["correlation_id"], correlation);
    let counted = c
        .eventually(&c.analytics, &format!("/analytics/orders/{id}"), |a| {
            a["outcome"] == "confirmed"
        })
        .await;
    assert_eq!(counted["correlation_id"], correlation);
    assert_eq!(counted["total_minor"], amount);
    // Waited for, not read once: a reservation can be committed by inventory's expiry sweep
    // (a late commit, see below) before its consumer has recorded the event.
    for (db, consumer) in [(&c.inventory_db, "inventory"), (&c.payment_db, "payment")] {
        let processed = format!(
            "SELECT count(*) FROM processed_events WHERE consumer = '{consumer}' AND aggregate_id = '{id}' AND correlation_id = '{correlation}'"
        );
        Checkout::eventually_count(db, &processed, 1).await;
    }
    let reserved: i64 = reservation["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["quantity"].as_i64().unwrap())
        .sum();
    assert_eq!(
        reserved, quantity,
        "the committed reservation holds the ordered quantity"
    );
}

#[actix_web::test]
async fn a_confirmed_order_fans_out_to_every_service_once_with_its_correlation_id() {
    let c = Checkout::start().await;
    let order = place_with_correlation(
        &c,
        "e2e-corr-1",
        &order_body("alice", "headphones", 1, CARD_SUCCESS),
    )
    .await;
    assert_eq!(order["status"], "confirmed");
    let id = order["id"].as_str().unwrap();
    assert_fanned_out(&c, id, "e2e-corr-1", 1, 19900).await;
    let headphones = c.product("headphones").await;
    assert_eq!(
        (headphones["reserved"].as_i64(), headphones["sold"].as_i64()),
        (Some(0), Some(1))
    );

    // A rejection fans out too: an email saying so, and a reason in analytics.
    let rejected =
        place_with_correlation(&c, "e2e-corr-2", &order_body("bob", "mug", 1, CARD_DECLINED)).await;
    let rid = rejected["id"].as_str().unwrap();
    let emails = c
        .eventually(&c.email, &format!("/emails?order_id={rid}"), |e| {
            e[0]["status"] == "sent"
        })
        .await;
    assert_eq!(emails[0]["kind"], "order_rejected");
    assert!(emails[0]["body_text"].as_str().unwrap().contains("declined"));
    let summary = c
        .eventually(&c.analytics, "/analytics/summary", |s| {
            s["totals"]["rejected"] == 1
        })
        .await;
    assert_eq!(summary["rejection_reasons"][0]["reason_code"], "payment_declined");
    assert_eq!(summary["totals"]["confirmed"], 1);
    assert_eq!(summary["top_products"][0]["sku"], "headphones");

    // The heartbeat keeps the projection fresh even when no orders flow.
    let fresh = c
        .eventually(&c.analytics, "/analytics/summary", |s| {
            s["freshness"]["last_heartbeat_at"].is_string()
        })
        .await;
    assert_eq!(fresh["freshness"]["stale"], false);

    // Every event left the outbox (the heartbeat is published continuously).
    let outbox_left = Checkout::count(&c.order_db, UNPUBLISHED_BUSINESS_EVENTS).await;
    assert_eq!(outbox_left, 0, "outbox drained");
    c.stop().await;
}

/// An event that no queue would receive is not "published": the broker returns it (the
/// relay publishes `mandatory`), the outbox row stays, and the event reaches every consumer
/// once their queues are back. (A broker confirms an unroutable message as readily as one
/// it stored: without `mandatory` the row was marked published and the event was lost.)
#[actix_web::test]
async fn an_event_no_queue_would_receive_stays_in_the_outbox_until_one_does() {
    let c = Checkout::start().await;
    let consumers = [
        (&c.inventory, "inventory"),
        (&c.payment, "payment"),
        (&c.email, "email"),
        (&c.analytics, "analytics"),
    ];
    // The broker loses every queue the order events are routed to.
    for (service, name) in consumers {
        let paused = c
            .admin_post(service, &format!("/admin/consumers/{name}/pause"))
            .await;
        assert_eq!(paused.status(), 200);
        let queue = format!("{name}.order-events");
        c.eventually_queue(&queue, |q| q["consumers"] == 0).await;
        c.vhost.delete_queue(&queue).await;
    }
    let order = place_with_correlation(
        &c,
        "unroutable-1",
        &order_body("shopper-unroutable", "notebook", 1, CARD_SUCCESS),
    )
    .await;
    assert_eq!(order["status"], "confirmed", "{order:#}");
    let id = order["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let unpublished =
        format!("SELECT count(*) FROM outbox WHERE aggregate_id = '{id}' AND published_at IS NULL");
    assert_eq!(
        Checkout::count(&c.order_db, &unpublished).await,
        1,
        "the broker returned the event, so it is not marked published"
    );
    // The consumers come back and declare their queues again; the relay's next attempt
    // reaches them all.
    for (service, name) in consumers {
        let resumed = c
            .admin_post(service, &format!("/admin/consumers/{name}/resume"))
            .await;
        assert_eq!(resumed.status(), 200);
    }
    assert_fanned_out(&c, id, "unroutable-1", 1, 1400).await;
    c.stop().await;
}

#[actix_web::test]
async fn checkouts_succeed_while_the_broker_is_down_and_every_effect_happens_once_after() {
    let c = Checkout::start().await;
    c.vhost.take_down().await;
    // Readiness tells the truth...
    c.eventually(&c.order, "/health/ready", |r| r["checks"]["broker"] != "ok")
        .await;
    // ...but the checkout does not depend on the broker: it writes to the outbox.
    let mut ids = Vec::new();
    for i in 0..5 {
        let order = place_with_correlation(
            &c,
            &format!("down-{i}"),
            &order_body(&format!("shopper-{i}"), "notebook", 2, CARD_SUCCESS),
        )
        .await;
        assert_eq!(order["status"], "confirmed", "{order:#}");
        ids.push(order["id"].as_str().unwrap().to_string());
    }
    let waiting = Checkout::count(
        &c.order_db,
        "SELECT count(*) FROM outbox WHERE published_at IS NULL AND event_type = 'order.confirmed'",
    )
    .await;
    assert_eq!(waiting, 5, "the events wait in the outbox");

    c.vhost.bring_back().await;
    for (i, id) in ids.iter().enumerate() {
        assert_fanned_out(&c, id, &format!("down-{i}"), 2, 2800).await;
    }
    let notebook = c.product("notebook").await;
    assert_eq!(notebook["sold"], 10, "committed once each");
    assert_eq!(
        Checkout::count(&c.email_db, "SELECT count(*) FROM emails").await,
        5
    );
    assert_eq!(
        Checkout::count(&c.analytics_db, "SELECT count(*) FROM counted_orders").await,
        5
    );
    c.stop().await;
}

/// The relay (or the broker) is down longer than a reservation's TTL. A confirmed, paid
/// order's reservation runs out of time before its commit arrives: inventory must not put
/// that stock back on sale (it would be sold twice); it asks the order service, which says
/// "confirmed", and commits. (Reservations of orders that are not confirmed still expire:
/// inventory's `abandoned_reservations_expire_and_return_their_stock`.) When the relay
/// resumes, the late events change nothing and dead-letter nothing.
#[actix_web::test]
async fn a_confirmed_orders_stock_is_never_put_back_on_sale_when_its_commit_is_late() {
    let c = Checkout::start_with(Knobs {
        reservation_ttl: Duration::from_secs(1),
        ..Knobs::default()
    })
    .await;
    let before = c.product("notebook").await;
    assert_eq!(c.admin_post(&c.order, "/admin/relay/pause").await.status(), 200);
    let confirmed = place_with_correlation(
        &c,
        "late-commit",
        &order_body("late", "notebook", 2, CARD_SUCCESS),
    )
    .await;
    assert_eq!(confirmed["status"], "confirmed", "{confirmed:#}");
    let confirmed_id = confirmed["id"].as_str().unwrap();

    // The reservation runs out of time while the order's events wait in the outbox.
    let reservation = c
        .eventually(&c.inventory, &format!("/reservations/{confirmed_id}"), |r| {
            r["status"] != "reserved"
        })
        .await;
    assert_eq!(
        reservation["status"], "committed",
        "the owner said confirmed: {reservation:#}"
    );
    let during = c.product("notebook").await;
    assert_eq!(
        during["sold"].as_i64(),
        before["sold"].as_i64().map(|s| s + 2),
        "{during:#}"
    );
    assert_eq!(
        during["available"].as_i64(),
        before["available"].as_i64().map(|a| a - 2),
        "{during:#}"
    );
    assert_eq!(during["reserved"], 0);

    // The late events arrive: no second commit, no dead letter, every effect once.
    assert_eq!(c.admin_post(&c.order, "/admin/relay/resume").await.status(), 200);
    assert_fanned_out(&c, confirmed_id, "late-commit", 2, 2800).await;
    c.eventually_consumers_drained().await;
    let after = c.product("notebook").await;
    assert_eq!(after["sold"], during["sold"], "{after:#}");
    assert_eq!(after["available"], during["available"], "{after:#}");
    let dead = c.vhost.queue("inventory.order-events.dlq").await;
    assert_eq!(
        dead["messages"], 0,
        "the late commit was not dead-lettered: {dead:#}"
    );
    c.stop().await;
}

async fn publish_raw(c: &Checkout, routing_key: &str, body: &[u8], envelope: Option<&Envelope>) {
    let conn = Connection::connect(&c.vhost.amqp_url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    platform_messaging::topology::declare_exchange(&channel)
        .await
        .unwrap();
    let props = envelope
        .map(platform_messaging::publish::properties)
        .unwrap_or_default();
    channel
        .basic_publish(
            EXCHANGE.into(),
            routing_key.into(),
            BasicPublishOptions::default(),
            body,
            props,
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let _ = conn.close(200, "bye".into()).await;
}

async fn confirmed_envelope(c: &Checkout, id: &str) -> Envelope {
    let conn = sea_orm::Database::connect(&c.order_db.url).await.unwrap();
    use sea_orm::ConnectionTrait;
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!(
                "SELECT envelope FROM outbox WHERE aggregate_id = '{id}' AND event_type = 'order.confirmed'"
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    let v: Value = row.try_get("", "envelope").unwrap();
    let _ = conn.close().await;
    serde_json::from_value(v).unwrap()
}

/// The same event as a future producer might write it: a schema version this build does
/// not know, under a new event id (so it is not taken for a duplicate).
fn from_the_future(envelope: &Envelope) -> Envelope {
    let mut future = envelope.clone();
    future.schema_version = 99;
    future.event_id = uuid::Uuid::now_v7();
    future
}

/// Waits until analytics dead-letters the event from the future, and returns its dead letters.
async fn eventually_future_dead_lettered(c: &Checkout) -> Value {
    c.eventually_admin(&c.analytics, "/admin/dead-letters", |l| {
        l.as_array().is_some_and(|a| {
            a.iter()
                .any(|m| m["reason"].as_str().unwrap_or("").contains("schema_version 99"))
        })
    })
    .await
}

#[actix_web::test]
async fn the_same_event_delivered_twice_or_ten_times_at_once_has_one_effect() {
    let c = Checkout::start().await;
    let order = place_with_correlation(&c, "dup-corr", &order_body("carol", "socks", 1, CARD_SUCCESS)).await;
    let id = order["id"].as_str().unwrap().to_string();
    assert_fanned_out(&c, &id, "dup-corr", 1, 2200).await;

    let envelope = confirmed_envelope(&c, &id).await;
    let body = serde_json::to_vec(&envelope).unwrap();
    publish_raw(&c, "order.confirmed", &body, Some(&envelope)).await;
    join_all((0..10).map(|_| publish_raw(&c, "order.confirmed", &body, Some(&envelope)))).await;

    // Wait until every consumer has drained its queue, then check nothing happened twice.
    c.eventually_consumers_drained().await;
    assert_eq!(c.product("socks").await["sold"], 1);
    let account = c.get(&c.payment, "/accounts/carol").await;
    assert_eq!(account["captured_minor"], 2200, "captured once");
    assert_eq!(
        Checkout::count(
            &c.email_db,
            &format!("SELECT count(*) FROM emails WHERE order_id = '{id}'")
        )
        .await,
        1
    );
    let summary = c.get(&c.analytics, "/analytics/summary").await;
    assert_eq!(summary["totals"]["confirmed"], 1);
    assert_eq!(summary["top_products"][0]["units"], 1);
    c.stop().await;
}

#[actix_web::test]
async fn a_relay_crash_between_publish_and_mark_only_causes_a_harmless_duplicate() {
    let c = Checkout::start().await;
    let order = place_with_correlation(
        &c,
        "crash-corr",
        &order_body("dave", "fountain-pen", 1, CARD_SUCCESS),
    )
    .await;
    let id = order["id"].as_str().unwrap().to_string();
    assert_fanned_out(&c, &id, "crash-corr", 1, 3900).await;

    // The state a crash after the broker's confirm, before the UPDATE, leaves behind: a
    // published event whose row still says "unpublished". The relay publishes it again.
    let conn = sea_orm::Database::connect(&c.order_db.url).await.unwrap();
    use sea_orm::ConnectionTrait;
    conn.execute_unprepared(&format!(
        "UPDATE outbox SET published_at = NULL WHERE aggregate_id = '{id}' AND event_type = 'order.confirmed'; NOTIFY outbox;"
    ))
    .await
    .unwrap();
    let _ = conn.close().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while Checkout::count(&c.order_db, &format!("SELECT COALESCE(max(attempts), 0)::bigint FROM outbox WHERE aggregate_id = '{id}' AND event_type = 'order.confirmed' AND published_at IS NOT NULL")).await != 2 {
        assert!(tokio::time::Instant::now() < deadline, "the relay republished the row");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.eventually_consumers_drained().await;
    assert_eq!(c.product("fountain-pen").await["sold"], 1);
    assert_eq!(c.get(&c.payment, "/accounts/dave").await["captured_minor"], 3900);
    assert_eq!(
        Checkout::count(&c.email_db, "SELECT count(*) FROM emails").await,
        1
    );
    assert_eq!(
        Checkout::count(&c.analytics_db, "SELECT count(*) FROM counted_orders").await,
        1
    );
    c.stop().await;
}

#[actix_web::test]
async fn poison_and_failing_messages_are_dead_lettered_the_queue_keeps_flowing_and_replay_works() {
    let c = Checkout::start().await;

    // Poison: not even an envelope. Dead-lettered at once, with the reason.
    publish_raw(&c, "order.confirmed", b"{this is not json", None).await;
    let letters = c
        .eventually_admin(&c.email, "/admin/dead-letters", |l| {
            l.as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    assert!(
        letters[0]["reason"]
            .as_str()
            .unwrap()
            .contains("not a valid event envelope"),
        "{letters:#}"
    );

    // An unknown schema version: never half-understood, dead-lettered with the reason.
    let order = place_with_correlation(&c, "poison-corr", &order_body("erin", "mug", 1, CARD_SUCCESS)).await;
    let id = order["id"].as_str().unwrap().to_string();
    let future = from_the_future(&confirmed_envelope(&c, &id).await);
    publish_raw(
        &c,
        "order.confirmed",
        &serde_json::to_vec(&future).unwrap(),
        Some(&future),
    )
    .await;
    let letters = eventually_future_dead_lettered(&c).await;
    assert!(letters.as_array().unwrap().len() >= 2);

    // The queue kept flowing: the real order went through everywhere.
    assert_fanned_out(&c, &id, "poison-corr", 1, 1800).await;

    // A handler that keeps failing: retried (bounded), then dead-lettered.
    c.fault(&c.email, "consume", json!({ "mode": "error" })).await;
    let failing =
        place_with_correlation(&c, "retry-corr", &order_body("frank", "plant", 1, CARD_SUCCESS)).await;
    let fid = failing["id"].as_str().unwrap().to_string();
    let letters = c
        .eventually_admin(&c.email, "/admin/dead-letters", |l| {
            l.as_array()
                .is_some_and(|a| a.iter().any(|m| m["correlation_id"] == "retry-corr"))
        })
        .await;
    let dead = letters
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["correlation_id"] == "retry-corr")
        .unwrap()
        .clone();
    assert!(
        dead["reason"]
            .as_str()
            .unwrap()
            .starts_with("gave up after 3 retries"),
        "{dead:#}"
    );
    assert_eq!(
        Checkout::count(
            &c.email_db,
            &format!("SELECT count(*) FROM emails WHERE order_id = '{fid}'")
        )
        .await,
        0
    );

    // Fixed: replay it (admin only), and it is processed, once.
    c.clear_fault(&c.email, "consume").await;
    let anonymous = c
        .http
        .post(c.email.url("/admin/dead-letters/replay"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let event_id = dead["event_id"].as_str().unwrap();
    let replayed: Value = c
        .admin_post(
            &c.email,
            &format!("/admin/dead-letters/replay?event_id={event_id}"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(replayed["replayed"], 1);
    c.eventually(&c.email, &format!("/emails?order_id={fid}"), |e| {
        e[0]["status"] == "sent"
    })
    .await;
    // The poison letters are still there, waiting for a human.
    let remaining = c.admin_get(&c.email, "/admin/dead-letters").await;
    assert!(
        remaining
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["correlation_id"] != "retry-corr")
    );
    assert!(!remaining.as_array().unwrap().is_empty());
    c.stop().await;
}

/// The analytics counters are spread over slots to avoid a hot row; what the summary shows
/// must still add up: many orders at once are each counted once, per minute and per product.
#[actix_web::test]
async fn concurrent_orders_add_up_in_analytics_across_counter_slots() {
    let c = Checkout::start().await;
    let bodies: Vec<Value> = (0..12)
        .map(|i| order_body(&format!("slots-{i}"), "mug", 1, CARD_SUCCESS))
        .collect();
    let placed = join_all(
        bodies
            .iter()
            .map(|body| place_with_correlation(&c, "slots", body)),
    )
    .await;
    assert!(placed.iter().all(|o| o["status"] == "confirmed"));
    let summary = c
        .eventually(&c.analytics, "/analytics/summary", |s| {
            s["totals"]["confirmed"] == 12
        })
        .await;
    let minutes = summary["per_minute"].as_array().unwrap();
    let confirmed: Vec<&Value> = minutes.iter().filter(|m| m["outcome"] == "confirmed").collect();
    let orders: i64 = confirmed.iter().map(|m| m["orders"].as_i64().unwrap()).sum();
    assert_eq!(orders, 12, "per-minute counts add up: {minutes:?}");
    let mut keys: Vec<&str> = confirmed.iter().map(|m| m["minute"].as_str().unwrap()).collect();
    keys.dedup();
    assert_eq!(
        keys.len(),
        confirmed.len(),
        "one row per minute, slots summed: {minutes:?}"
    );
    let mug = &summary["top_products"][0];
    assert_eq!(
        (mug["sku"].as_str(), mug["units"].as_i64()),
        (Some("mug"), Some(12))
    );
    c.stop().await;
}

/// Places confirmed orders while the analytics consumer is paused, and waits until their
/// events are in its queue.
async fn pile_up(c: &Checkout, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let body = order_body(&format!("{prefix}-shopper-{i}"), "mug", 1, CARD_SUCCESS);
        let order = place_with_correlation(c, &format!("{prefix}-{i}"), &body).await;
        assert_eq!(order["status"], "confirmed", "{order:#}");
        ids.push(format!("'{}'", order["id"].as_str().unwrap()));
    }
    Checkout::eventually_count(
        &c.order_db,
        "SELECT count(*) FROM outbox WHERE published_at IS NULL",
        0,
    )
    .await;
    ids
}

#[actix_web::test]
async fn events_that_arrive_together_share_a_transaction_and_a_bad_one_spoils_none_of_the_others() {
    let c = Checkout::start().await;
    let pause = |on: bool| {
        let path = if on {
            "/admin/consumers/analytics/pause"
        } else {
            "/admin/consumers/analytics/resume"
        };
        c.admin_post(&c.analytics, path)
    };

    // Eight events waiting in the queue arrive together when the consumer resumes: they
    // are applied in fewer transactions than events (rows written by one transaction
    // share its id, `xmin`), each exactly once.
    assert_eq!(pause(true).await.status(), 200);
    let ids = pile_up(&c, "batch", 8).await.join(",");
    assert_eq!(pause(false).await.status(), 200);
    let counted = format!("SELECT count(*) FROM counted_orders WHERE order_id IN ({ids})");
    Checkout::eventually_count(&c.analytics_db, &counted, 8).await;
    let transactions = Checkout::count(
        &c.analytics_db,
        &format!(
            "SELECT count(DISTINCT xmin::text) FROM processed_events
             WHERE consumer = 'analytics' AND aggregate_id IN ({ids})"
        ),
    )
    .await;
    assert!(
        transactions < 8,
        "8 events in {transactions} transactions: no batch was formed"
    );

    // A batch holding an event that cannot be applied (a schema version from the future)
    // and a duplicate: the batch rolls back and its events are handled one by one. The
    // good ones are applied once, the duplicate has no effect, the bad one is dead-lettered.
    assert_eq!(pause(true).await.status(), 200);
    let more = pile_up(&c, "spoiled", 3).await;
    let first = more[0].trim_matches('\'');
    let duplicate = confirmed_envelope(&c, first).await;
    let future = from_the_future(&duplicate);
    for envelope in [&future, &duplicate] {
        let body = serde_json::to_vec(envelope).unwrap();
        publish_raw(&c, "order.confirmed", &body, Some(envelope)).await;
    }
    assert_eq!(pause(false).await.status(), 200);
    let letters = eventually_future_dead_lettered(&c).await;
    assert_eq!(
        letters.as_array().unwrap().len(),
        1,
        "only the bad event: {letters:#}"
    );
    let more = more.join(",");
    Checkout::eventually_count(
        &c.analytics_db,
        &format!("SELECT count(*) FROM counted_orders WHERE order_id IN ({more})"),
        3,
    )
    .await;
    c.eventually_queue_empty("analytics.order-events").await;
    assert_eq!(
        Checkout::count(
            &c.analytics_db,
            "SELECT sum(orders)::bigint FROM orders_per_minute WHERE outcome = 'confirmed'"
        )
        .await,
        11,
        "every confirmed order counted once, the duplicate not at all"
    );
    c.stop().await;
}

/// The HA stack's queues (`BROKER_QUEUE_TYPE=quorum`): every consumer queue, its retry queues
/// and its dead-letter queue are quorum queues, a retried event travels through the retry
/// queue's TTL and back into the main queue (dead-lettered at least once, not at most once), and
/// the order fans out once everywhere. (A broker holding classic queues of the same names would
/// refuse these declarations: a queue's type is fixed when it is created.)
#[actix_web::test]
async fn with_quorum_queues_the_fan_out_and_its_retries_reach_every_service_once() {
    let c = Checkout::start_with(Knobs {
        queue_type: platform_messaging::topology::QueueType::Quorum,
        ..Knobs::default()
    })
    .await;
    let management =
        platform_messaging::management::Management::new(&platform_testing::management_url()).unwrap();
    let queues = management
        .get(&format!("api/queues/{}", c.vhost.name))
        .await
        .unwrap();
    let queues = queues.as_array().unwrap();
    assert!(
        queues.len() >= 4 * 3,
        "main, retry and dead-letter queues of four consumers: {queues:#?}"
    );
    for q in queues {
        assert_eq!(q["type"], "quorum", "{}", q["name"]);
        if q["name"].as_str().unwrap().contains(".retry.") {
            assert_eq!(q["arguments"]["x-dead-letter-strategy"], "at-least-once", "{q:#}");
        }
    }

    // The email consumer fails twice (transient): the event waits out two retry queues.
    c.fault(&c.email, "consume", json!({ "mode": "error", "remaining": 2 }))
        .await;
    let order = place_with_correlation(&c, "quorum-corr", &order_body("quinn", "mug", 1, CARD_SUCCESS)).await;
    let id = order["id"].as_str().unwrap().to_string();
    assert_fanned_out(&c, &id, "quorum-corr", 1, 1800).await;
    assert_eq!(
        Checkout::count(
            &c.email_db,
            &format!("SELECT count(*) FROM emails WHERE order_id = '{id}'")
        )
        .await,
        1
    );
    c.stop().await;
}
