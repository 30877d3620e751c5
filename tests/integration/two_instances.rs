//! Every service as two instances against one set of databases and one broker vhost, as a
//! deployment with N replicas runs it: checkouts arrive through both order instances, each
//! order instance calls its own inventory and payment instance, both instances of each
//! consumer compete for the same queues, and both order instances run the relay, the
//! reconciler and the compensation worker. What keeps that correct is already in the
//! database and the broker: `FOR UPDATE SKIP LOCKED` claims (outbox rows, compensations,
//! emails to send), idempotent calls keyed by order id, processed-event keys. This test
//! holds them to it: every effect happens exactly once.

use std::time::Duration;

use futures_util::future::join_all;
use platform_testing::{RunningService, customer_token, free_port, spawn};
use serde_json::Value;

use crate::support::*;

const ORDERS: usize = 30;

/// Two instances of every service on one set of databases and one vhost.
struct Twins {
    b: Backends,
    order1: RunningService,
    order2: RunningService,
    seconds: [RunningService; 4],
}

impl Twins {
    async fn start() -> Self {
        let knobs = Knobs::default();
        let b = Backends::start(&knobs).await;
        let order1 = spawn(
            order_service::build(b.order_settings(&knobs))
                .await
                .expect("order builds"),
        );
        let (inventory2, payment2, email2, analytics2) = Backends::spawn_services(
            &knobs,
            [&b.inventory_db, &b.payment_db, &b.email_db, &b.analytics_db],
            &b.vhost,
            &b.mail_dir,
            b.order_port,
        )
        .await;
        // The second order instance calls the second instances, as a load balancer in front
        // of each service would spread the calls.
        let mut settings = b.order_settings(&knobs);
        settings.service.server.http.port = free_port();
        settings.inventory_url = inventory2.address.clone();
        settings.payment_url = payment2.address.clone();
        settings.email_url = email2.address.clone();
        settings.analytics_url = analytics2.address.clone();
        let order2 = spawn(order_service::build(settings).await.expect("order builds"));
        let twins = Self {
            b,
            order1,
            order2,
            seconds: [inventory2, payment2, email2, analytics2],
        };
        for s in [&twins.order1, &twins.order2].into_iter().chain(&twins.seconds) {
            s.wait_ready(Duration::from_secs(15)).await;
        }
        twins
    }

    async fn stop(self) {
        self.order1.stop().await;
        self.order2.stop().await;
        for s in self.seconds {
            s.stop().await;
        }
        self.b.stop().await;
    }
}

/// An operator's GET, its JSON answer.
async fn admin_get(http: &reqwest::Client, service: &RunningService, path: &str) -> Value {
    let res = http
        .get(service.url(path))
        .header("X-Admin-Token", platform_testing::TEST_ADMIN_TOKEN);
    res.send().await.unwrap().json().await.unwrap()
}

async fn place(http: &reqwest::Client, order: &RunningService, customer: &str, card: &str) -> (u16, String) {
    let res = http
        .post(order.url("/orders"))
        .header("Idempotency-Key", key())
        .bearer_auth(customer_token(customer))
        .json(&order_body(customer, "notebook", 1, card))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    (status, body["id"].as_str().unwrap_or_default().to_string())
}

#[actix_web::test]
async fn two_instances_of_every_service_apply_every_effect_exactly_once() {
    let twins = Twins::start().await;
    let Twins {
        b, order1, order2, ..
    } = &twins;
    // Checkouts through both order instances at once: two in three approved, one in three
    // declined (its reservation released by a compensation, on whichever instance claims it).
    let http = reqwest::Client::new();
    let placed = join_all((0..ORDERS).map(|i| {
        let order = if i % 2 == 0 { order1 } else { order2 };
        let card = if i % 3 == 2 { CARD_DECLINED } else { CARD_SUCCESS };
        let http = &http;
        async move { place(http, order, &format!("twin-{i}"), card).await }
    }))
    .await;
    let confirmed = placed.iter().filter(|(s, _)| *s == 201).count() as i64;
    let declined = placed.iter().filter(|(s, _)| *s == 402).count() as i64;
    assert_eq!(
        (confirmed + declined) as usize,
        ORDERS,
        "every checkout answered: {placed:?}"
    );
    assert_eq!(declined as usize, ORDERS / 3);

    // Every effect arrives (the fan-out is asynchronous) ...
    let effects = || async {
        [
            b.inventory_db
                .scalar("SELECT count(*) FROM reservations WHERE status = 'committed'")
                .await,
            b.inventory_db
                .scalar("SELECT count(*) FROM reservations WHERE status = 'released'")
                .await,
            b.payment_db
                .scalar("SELECT count(*) FROM payments WHERE status = 'captured'")
                .await,
            b.email_db
                .scalar("SELECT count(*) FROM emails WHERE status = 'sent'")
                .await,
            b.analytics_db
                .scalar("SELECT COALESCE(sum(orders), 0)::bigint FROM orders_per_minute")
                .await,
        ]
    };
    let expected = [confirmed, declined, confirmed, ORDERS as i64, ORDERS as i64];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let seen = effects().await;
        if seen == expected {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "[committed, released, captured, emails sent, counted] = {seen:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // ... and, once everything has settled, none arrived twice: one reservation, one
    // payment and one email per order, each event counted once by analytics, each outbox
    // event published (heartbeats apart, see `UNPUBLISHED_BUSINESS_EVENTS`), no compensation
    // left.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(effects().await, expected, "no effect arrived a second time");
    for (db, sql) in [
        (
            &b.inventory_db,
            "SELECT count(*) - count(DISTINCT order_id) FROM reservations",
        ),
        (
            &b.payment_db,
            "SELECT count(*) - count(DISTINCT order_id) FROM payments",
        ),
        (
            &b.email_db,
            "SELECT count(*) - count(DISTINCT order_id) FROM emails",
        ),
        (&b.order_db, UNPUBLISHED_BUSINESS_EVENTS),
        (
            &b.order_db,
            "SELECT count(*) FROM compensations WHERE status <> 'done'",
        ),
        (
            &b.order_db,
            "SELECT count(*) FROM orders WHERE status NOT IN ('confirmed', 'rejected')",
        ),
    ] {
        assert_eq!(db.scalar(sql).await, 0, "{sql}");
    }
    assert_eq!(
        b.order_db
            .scalar("SELECT count(*) FROM compensations WHERE status = 'done'")
            .await,
        declined,
        "one release per declined order"
    );

    twins.stop().await;
}

/// The relay's pause (the demo's "broker down") is a row in the database: paused through
/// one instance, no instance publishes; resumed through the other, every one does. (Held
/// in each process, it paused one relay of two, and the other published.)
#[actix_web::test]
async fn pausing_the_relay_through_one_instance_pauses_every_instance() {
    let twins = Twins::start().await;
    let Twins {
        b, order1, order2, ..
    } = &twins;
    let http = reqwest::Client::new();
    let admin = |order: &RunningService, path: &str| {
        http.post(order.url(path))
            .header("X-Admin-Token", platform_testing::TEST_ADMIN_TOKEN)
            .send()
    };
    assert_eq!(admin(order1, "/admin/relay/pause").await.unwrap().status(), 200);
    // Only what is written after the pause must stay put: a heartbeat written and published
    // before it (one every 500 ms per instance here) is not the relay ignoring the pause.
    let before_pause = b.order_db.scalar("SELECT coalesce(max(id), 0) FROM outbox").await;
    for (i, order) in [order1, order2, order1, order2].into_iter().enumerate() {
        assert_eq!(
            place(&http, order, &format!("paused-{i}"), CARD_SUCCESS).await.0,
            201
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let published_while_paused =
        format!("SELECT count(*) FROM outbox WHERE id > {before_pause} AND published_at IS NOT NULL");
    assert_eq!(
        b.order_db.scalar(&published_while_paused).await,
        0,
        "no relay published while paused"
    );
    let state: Value = admin_get(&http, order2, "/admin/relay").await;
    assert_eq!(state["paused"], true, "the other instance says so too");
    assert_eq!(admin(order2, "/admin/relay/resume").await.unwrap().status(), 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while b.order_db.scalar(UNPUBLISHED_BUSINESS_EVENTS).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox drained after the resume"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    twins.stop().await;
}

/// A fault switch is a row in the service's database: armed through one instance ("the
/// next 3 reservations get 429"), it fires on the other, and counts down once across both.
/// (Held in each process, the other instance ignored it.)
#[actix_web::test]
async fn a_fault_switch_armed_through_one_instance_fires_on_every_instance_once_per_count() {
    let twins = Twins::start().await;
    let (inventory1, inventory2) = (&twins.b.inventory, &twins.seconds[0]);
    let http = reqwest::Client::new();
    let armed = http
        .put(inventory1.url("/admin/faults/reserve"))
        .header("X-Admin-Token", platform_testing::TEST_ADMIN_TOKEN)
        .json(&serde_json::json!({ "mode": "rate_limit", "remaining": 3, "retry_after_secs": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(armed.status(), 200);
    // The other instance reads the switches again within REFRESH.
    tokio::time::sleep(platform_service::faults::REFRESH + Duration::from_millis(100)).await;
    let (header, credential) = platform_testing::as_service(platform_config::Component::Order);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let res = http
            .post(inventory2.url("/reservations"))
            .header(header, &credential)
            .json(&serde_json::json!({
                "order_id": uuid::Uuid::now_v7(),
                "lines": [{ "sku": "mug", "quantity": 1 }],
            }))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(
        statuses,
        [429, 429, 429, 201, 201],
        "three 429s in all, on the other instance"
    );
    let left: Value = admin_get(&http, inventory1, "/admin/faults").await;
    assert_eq!(
        left["faults"],
        serde_json::json!({}),
        "the switch is spent everywhere"
    );
    twins.stop().await;
}

/// An operator's POST or PUT to one instance, its status and JSON answer.
async fn admin_send(
    http: &reqwest::Client,
    method: reqwest::Method,
    service: &RunningService,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http
        .request(method, service.url(path))
        .header("X-Admin-Token", platform_testing::TEST_ADMIN_TOKEN);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or_default())
}

/// A consumer's pause is a row in the service's database: paused through one instance of
/// email, neither instance consumes (the queue keeps every event, nobody is subscribed to
/// it); resumed through the other, both consume again and each event is applied once.
/// (Held in each process, the other instance went on consuming.)
#[actix_web::test]
async fn pausing_a_consumer_through_one_instance_pauses_every_instance() {
    const EVENTS: usize = 6;
    let twins = Twins::start().await;
    let Twins {
        b,
        order1,
        order2,
        seconds,
    } = &twins;
    let (email1, email2) = (&b.email, &seconds[2]);
    let http = reqwest::Client::new();
    let (status, listed) = admin_send(
        &http,
        reqwest::Method::POST,
        email1,
        "/admin/consumers/email/pause",
        None,
    )
    .await;
    assert_eq!((status, &listed[0]["paused"]), (200, &Value::Bool(true)));
    // The other instance reads the switches again within REFRESH.
    tokio::time::sleep(platform_service::switches::REFRESH * 2).await;
    for (i, order) in [order1, order2].into_iter().cycle().take(EVENTS).enumerate() {
        assert_eq!(
            place(&http, order, &format!("held-{i}"), CARD_SUCCESS).await.0,
            201
        );
    }
    // Each order.confirmed waits in the queue, which neither instance consumes from.
    let applied = || {
        b.email_db
            .scalar("SELECT count(*) FROM processed_events WHERE consumer = 'email'")
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        assert_eq!(applied().await, 0, "an instance consumed while paused");
        let queue = b.vhost.queue("email.order-events").await;
        if queue["messages"] == EVENTS && queue["consumers"] == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the queue never held every event with nobody consuming: {queue:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(applied().await, 0, "an instance consumed while paused");
    let listed = admin_get(&http, email2, "/admin/consumers").await;
    assert_eq!(listed[0]["paused"], true, "the other instance says so too");

    // Resumed through the other instance: both instances subscribe again, the queue drains,
    // and each event is applied once.
    let (status, listed) = admin_send(
        &http,
        reqwest::Method::POST,
        email2,
        "/admin/consumers/email/resume",
        None,
    )
    .await;
    assert_eq!((status, &listed[0]["paused"]), (200, &Value::Bool(false)));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let queue = b.vhost.queue("email.order-events").await;
        if queue["messages"] == 0 && queue["consumers"] == 2 && applied().await == EVENTS as i64 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "both instances consume again and apply every event: {queue:#}, {} applied",
            applied().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(applied().await, EVENTS as i64, "no event applied twice");
    assert_eq!(
        b.email_db
            .scalar("SELECT count(*) - count(DISTINCT order_id) FROM emails")
            .await,
        0,
        "one email per order"
    );
    let listed = admin_get(&http, email1, "/admin/consumers").await;
    assert_eq!(listed[0]["paused"], false, "the first instance says so too");
    twins.stop().await;
}

/// A consumer's reader is a row too: switched to the strict v1 reader through one instance
/// of analytics, both instances read with it (every order.confirmed is dead-lettered,
/// whichever instance takes it; none is counted) and the other reports it; switched back
/// through the other, the first reports that.
#[actix_web::test]
async fn switching_a_consumers_reader_through_one_instance_switches_every_instance() {
    const CONFIRMED: usize = 6;
    let twins = Twins::start().await;
    let Twins {
        b,
        order1,
        order2,
        seconds,
    } = &twins;
    let (analytics1, analytics2) = (&b.analytics, &seconds[3]);
    let http = reqwest::Client::new();
    let reader = |service, mode: &str| {
        admin_send(
            &http,
            reqwest::Method::PUT,
            service,
            "/admin/consumers/analytics/reader",
            Some(serde_json::json!({ "mode": mode })),
        )
    };
    let (status, listed) = reader(analytics1, "strict_v1").await;
    assert_eq!((status, &listed[0]["reader"]), (200, &Value::from("strict_v1")));
    tokio::time::sleep(platform_service::switches::REFRESH * 2).await;
    for (i, order) in [order1, order2].into_iter().cycle().take(CONFIRMED).enumerate() {
        assert_eq!(
            place(&http, order, &format!("strict-{i}"), CARD_SUCCESS).await.0,
            201
        );
    }
    let counted = || {
        b.analytics_db
            .scalar("SELECT count(*) FROM counted_orders WHERE outcome = 'confirmed'")
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        assert_eq!(counted().await, 0, "an instance read with the tolerant reader");
        let dlq = b.vhost.queue("analytics.order-events.dlq").await;
        if dlq["messages"] == CONFIRMED {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "every order.confirmed dead-lettered: {dlq:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(counted().await, 0, "an instance read with the tolerant reader");
    let listed = admin_get(&http, analytics2, "/admin/consumers").await;
    assert_eq!(listed[0]["reader"], "strict_v1", "the other instance says so");

    let (status, listed) = reader(analytics2, "tolerant").await;
    assert_eq!((status, &listed[0]["reader"]), (200, &Value::from("tolerant")));
    let listed = admin_get(&http, analytics1, "/admin/consumers").await;
    assert_eq!(listed[0]["reader"], "tolerant", "the first instance says so");
    twins.stop().await;
}
