//! Reservation semantics, straight against the inventory API.
use std::time::Duration;

use platform_config::Component;
use platform_testing::{TestDatabase, TestVhost, service_settings, spawn};
use serde_json::{Value, json};
use uuid::Uuid;

async fn start(ttl: Duration) -> (platform_testing::RunningService, TestDatabase, TestVhost) {
    let db = TestDatabase::create("inventory").await;
    let vhost = TestVhost::create("inventory").await;
    let mut settings = inventory_service::Settings::new(service_settings(Component::Inventory, &db, &vhost));
    settings.reservation_ttl = ttl;
    settings.sweep_interval = Duration::from_millis(100);
    let service = spawn(inventory_service::build(settings).await.unwrap());
    (service, db, vhost)
}

async fn post(url: String, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let req = client.post(url);
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn product(s: &platform_testing::RunningService, sku: &str) -> Value {
    reqwest::get(s.url(&format!("/products/{sku}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[actix_web::test]
async fn reserve_release_commit_are_idempotent_per_order() {
    let (s, _db, _vhost) = start(Duration::from_secs(600)).await;
    let catalog: Value = reqwest::get(s.url("/products"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(catalog.as_array().unwrap().len(), 12);
    assert_eq!(
        catalog[0]["sku"], "hot-sneaker",
        "the hot product is listed first"
    );

    let order = Uuid::new_v4();
    let body = json!({ "order_id": order, "lines": [{ "sku": "mug", "quantity": 2 }] });
    let (status, first) = post(s.url("/reservations"), Some(body.clone())).await;
    assert_eq!(status, 201);
    assert_eq!(first["total_minor"], 3600);
    let (status, again) = post(s.url("/reservations"), Some(body)).await;
    assert_eq!(status, 200, "a retry is answered from the stored reservation");
    assert_eq!(again["lines"], first["lines"]);
    let (status, err) = post(
        s.url("/reservations"),
        Some(json!({ "order_id": order, "lines": [{ "sku": "mug", "quantity": 3 }] })),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (422, Some("reservation_mismatch"))
    );
    assert_eq!(product(&s, "mug").await["reserved"], 2, "held once");

    for _ in 0..2 {
        let (status, r) = post(s.url(&format!("/reservations/{order}/commit")), None).await;
        assert_eq!((status, r["status"].as_str()), (200, Some("committed")));
    }
    let mug = product(&s, "mug").await;
    assert_eq!(
        (mug["reserved"].as_i64(), mug["sold"].as_i64()),
        (Some(0), Some(2))
    );
    let (status, err) = post(s.url(&format!("/reservations/{order}/release")), None).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("already_committed"))
    );
    s.stop().await;
}

#[actix_web::test]
async fn a_release_that_overtakes_its_reserve_fences_it_off() {
    let (s, _db, _vhost) = start(Duration::from_secs(600)).await;
    let order = Uuid::new_v4();
    let (status, r) = post(s.url(&format!("/reservations/{order}/release")), None).await;
    assert_eq!((status, r["status"].as_str()), (200, Some("released")));
    let (status, err) = post(
        s.url("/reservations"),
        Some(json!({ "order_id": order, "lines": [{ "sku": "mug", "quantity": 1 }] })),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("reservation_closed"))
    );
    assert_eq!(product(&s, "mug").await["reserved"], 0);
    s.stop().await;
}

#[actix_web::test]
async fn insufficient_stock_names_the_lines_and_holds_nothing() {
    let (s, _db, _vhost) = start(Duration::from_secs(600)).await;
    let (status, err) = post(
        s.url("/reservations"),
        Some(json!({ "order_id": Uuid::new_v4(), "lines": [
            { "sku": "mug", "quantity": 1 }, { "sku": "hot-sneaker", "quantity": 11 } ] })),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(err["error"]["code"], "insufficient_stock");
    assert_eq!(
        err["error"]["details"]["lines"],
        json!([{ "sku": "hot-sneaker", "requested": 11, "available": 10 }])
    );
    assert_eq!(product(&s, "mug").await["reserved"], 0, "all or nothing");
    s.stop().await;
}

#[actix_web::test]
async fn an_abandoned_reservation_expires_and_returns_its_stock() {
    let (s, _db, _vhost) = start(Duration::from_millis(300)).await;
    let order = Uuid::new_v4();
    let (status, _) = post(
        s.url("/reservations"),
        Some(json!({ "order_id": order, "lines": [{ "sku": "hot-sneaker", "quantity": 4 }] })),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(product(&s, "hot-sneaker").await["available"], 6);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let p = product(&s, "hot-sneaker").await;
        if p["available"] == 10 {
            assert_eq!(p["reserved"], 0);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reservation never expired: {p}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r: Value = reqwest::get(s.url(&format!("/reservations/{order}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "expired");
    s.stop().await;
}
