//! Read/write splitting against a real streaming replica (`./dev` runs one beside the
//! test PostgreSQL), made to lag for real by pausing its WAL replay.
//!
//! In a test binary of its own: pausing replay pauses it for every database on the
//! replica, and no other test in this process may be reading it meanwhile.

use std::time::Duration;

use platform_config::Component;
use platform_contracts::ops::{ALERTS_PATH, Alerts, ReplicaStatus};
use platform_testing::{
    RunningService, TEST_ADMIN_TOKEN, TcpProxy, TestDatabase, TestReplica, TestVhost, service_settings, spawn,
};
use serde_json::{Value, json};
use uuid::Uuid;

const TOKEN: &str = "x-consistency-token";

/// A service's settings with a replica: through `proxy` (which the test can cut), judged
/// unusable past 1.5 s of lag, measured every 100 ms.
fn with_replica(
    component: Component,
    db: &TestDatabase,
    vhost: &TestVhost,
    proxy: &TcpProxy,
) -> platform_config::ServiceSettings {
    let mut service = service_settings(component, db, vhost);
    // The test database's name, on the server behind the proxy: the replica.
    service.database_replica_url = Some(db.url_via(proxy.port));
    service.replica_max_lag = Duration::from_millis(1500);
    service.replica_check_interval = Duration::from_millis(100);
    service
}

async fn replica_status(service: &RunningService) -> ReplicaStatus {
    reqwest::get(service.url("/ops/replica"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn until_usable(service: &RunningService, usable: bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = replica_status(service).await;
        if status.usable == usable {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "replica never became usable={usable}: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Degraded, not down: readiness stays green without the replica.
async fn assert_ready(service: &RunningService) {
    let ready = reqwest::get(service.url("/health/ready")).await.unwrap();
    assert_eq!(ready.status(), 200, "ready while the replica is unusable");
}

/// Whether the order service's `replica_unusable` alert fires, waiting for it to be `firing`.
async fn until_alert(order: &RunningService, firing: bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let alerts: Alerts = reqwest::get(order.url(ALERTS_PATH))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if alerts.active.iter().any(|a| a.name == "replica_unusable") == firing {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replica_unusable alert never became firing={firing}: {:?}",
            alerts.active
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `hot-sneaker`'s available stock, as the catalog (a tolerant read) shows it.
async fn available(inventory: &RunningService, token: Option<&str>) -> i64 {
    let mut req = reqwest::Client::new().get(inventory.url("/products/hot-sneaker"));
    if let Some(token) = token {
        req = req.header(TOKEN, token);
    }
    let product: Value = req.send().await.unwrap().json().await.unwrap();
    product["available"].as_i64().unwrap()
}

async fn post(url: String, body: Value, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = reqwest::Client::new().post(url).json(&body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

#[actix_web::test]
async fn tolerant_reads_use_the_replica_and_every_stock_and_money_decision_the_primary() {
    let replica = TestReplica::connect().await;
    let (inventory_db, payment_db, order_db) = (
        TestDatabase::create("inventory").await,
        TestDatabase::create("payment").await,
        TestDatabase::create("order").await,
    );
    let vhost = TestVhost::create("replica").await;
    let proxy = TcpProxy::start(
        platform_testing::replica_admin_url()
            .split('@')
            .nth(1)
            .and_then(|r| r.split('/').next())
            .and_then(|a| std::net::ToSocketAddrs::to_socket_addrs(a).ok())
            .and_then(|mut a| a.next())
            .expect("the replica's address"),
    )
    .await;
    let mut settings =
        inventory_service::Settings::new(with_replica(Component::Inventory, &inventory_db, &vhost, &proxy));
    settings.order_url = "http://127.0.0.1:9".into();
    let inventory = spawn(inventory_service::build(settings).await.unwrap());
    let mut settings =
        payment_service::Settings::new(with_replica(Component::Payment, &payment_db, &vhost, &proxy));
    settings.opening_balance_minor = 10_000;
    let payment = spawn(payment_service::build(settings).await.unwrap());
    // The order service raises the alert (its own view of the replica).
    let mut settings = order_service::Settings::new(
        with_replica(Component::Order, &order_db, &vhost, &proxy),
        inventory.address.clone(),
        payment.address.clone(),
    );
    settings.ops_interval = Duration::from_millis(100);
    let order = spawn(order_service::build(settings).await.unwrap());
    for db in [&inventory_db, &payment_db, &order_db] {
        replica.catch_up(db, Duration::from_secs(20)).await;
    }
    until_usable(&inventory, true).await;
    until_usable(&payment, true).await;
    until_usable(&order, true).await;
    until_alert(&order, false).await;
    assert_eq!(available(&inventory, None).await, 10);

    replica.pause_replay().await;

    // A write, answered with where its commit is in the WAL.
    let restock = post(
        inventory.url("/admin/products/hot-sneaker/restock"),
        json!({ "quantity": 5 }),
        &[
            ("Idempotency-Key", "replica-restock"),
            ("Authorization", &format!("Bearer {TEST_ADMIN_TOKEN}")),
        ],
    )
    .await;
    assert_eq!(restock.status(), 201);
    let token = restock
        .headers()
        .get(TOKEN)
        .expect("a write's answer carries a consistency token")
        .to_str()
        .unwrap()
        .to_string();

    // Anyone else reads the lagging replica: the restock is not there yet.
    assert_eq!(
        available(&inventory, None).await,
        10,
        "a read without a token is served by the replica"
    );
    // The writer reads its own write: the replica has not replayed the token, the primary answers.
    assert_eq!(
        available(&inventory, Some(&token)).await,
        15,
        "a read with the token sees the write"
    );

    // A stock decision reads the primary: 12 units exist there (the replica says 10). As the
    // order service: reservations and authorizations accept no other caller.
    let (auth, credential) = platform_testing::as_service(Component::Order);
    let as_order = [(auth, credential.as_str())];
    let reserve = post(
        inventory.url("/reservations"),
        json!({ "order_id": Uuid::now_v7(), "lines": [{ "sku": "hot-sneaker", "quantity": 12 }] }),
        &as_order,
    )
    .await;
    assert_eq!(
        reserve.status(),
        201,
        "the reservation decides on the primary's stock"
    );

    // A money decision reads the primary: after the first hold, the second finds the
    // balance spent, although the replica still shows all of it.
    let authorize = |order: Uuid, amount: i64| {
        post(
            payment.url("/payments/authorize"),
            json!({ "order_id": order, "customer_id": "replica-alice", "amount_minor": amount,
                    "currency": "EUR", "card_number": "4242424242424242" }),
            &as_order,
        )
    };
    assert_eq!(authorize(Uuid::now_v7(), 9_999).await.status(), 201);
    assert_eq!(
        authorize(Uuid::now_v7(), 2).await.status(),
        402,
        "the second authorization sees the first hold"
    );

    // Past the lag threshold the replica serves nothing; readiness stays green (degraded,
    // not down) and reads come from the primary.
    until_usable(&inventory, false).await;
    until_alert(&order, true).await;
    let status = replica_status(&inventory).await;
    assert!(status.lag_millis >= 1500 && status.lag_bytes > 0, "{status:?}");
    assert_ready(&inventory).await;
    assert_eq!(
        available(&inventory, None).await,
        3,
        "a lagging replica serves no reads"
    );

    // Caught up, it is used again.
    replica.resume_replay().await;
    replica.catch_up(&inventory_db, Duration::from_secs(20)).await;
    until_usable(&inventory, true).await;
    until_alert(&order, false).await;
    assert_eq!(available(&inventory, None).await, 3);

    // A replica that cannot be reached is the same: unusable, reads from the primary.
    proxy.cut();
    until_usable(&inventory, false).await;
    assert_ready(&inventory).await;
    assert_eq!(available(&inventory, None).await, 3);
    until_alert(&order, true).await;
    proxy.restore();
    until_usable(&inventory, true).await;
    until_alert(&order, false).await;

    // The demo's "replica down" switch does the same for as long as it is set.
    let switched = post(
        inventory.url("/admin/replica/down"),
        json!({ "seconds": 1 }),
        &[("Authorization", &format!("Bearer {TEST_ADMIN_TOKEN}"))],
    )
    .await;
    assert_eq!(switched.status(), 200);
    assert!(!replica_status(&inventory).await.usable, "switched off at once");
    until_usable(&inventory, true).await;

    order.stop().await;
    inventory.stop().await;
    payment.stop().await;
}
