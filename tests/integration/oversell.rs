//! 40 shoppers, 10 sneakers: exactly 10 orders, stock never negative, stock conserved.

use crate::support::*;
use futures_util::future::join_all;

#[actix_web::test]
async fn concurrent_checkouts_never_oversell() {
    let c = Checkout::start().await;
    let before = c.product("hot-sneaker").await;
    let initial = before["initial_stock"].as_i64().unwrap();
    assert_eq!(before["available"], 10);

    let n = 40;
    let requests: Vec<_> = (0..n)
        .map(|i| {
            (
                key(),
                order_body(&format!("shopper-{i}"), "hot-sneaker", 1, CARD_SUCCESS),
            )
        })
        .collect();
    let responses = join_all(requests.iter().map(|(k, b)| c.place(k, b))).await;
    let confirmed = responses.iter().filter(|r| r.status() == 201).count();
    let out_of_stock = responses.iter().filter(|r| r.status() == 409).count();
    assert_eq!(confirmed, 10);
    assert_eq!(out_of_stock, n - 10);

    let after = c.product("hot-sneaker").await;
    let (available, reserved, sold) = (
        after["available"].as_i64().unwrap(),
        after["reserved"].as_i64().unwrap(),
        after["sold"].as_i64().unwrap(),
    );
    assert_eq!(available, 0);
    assert_eq!(available + reserved + sold, initial, "stock is conserved");
    assert_eq!(
        Checkout::count(
            &c.order_db,
            "SELECT count(*) FROM orders WHERE status = 'confirmed'"
        )
        .await,
        10
    );
    assert_eq!(
        Checkout::count(
            &c.order_db,
            "SELECT count(*) FROM orders WHERE status = 'rejected' AND reason_code = 'out_of_stock'"
        )
        .await,
        (n - 10) as i64
    );
    // Rejected for stock: nothing was ever held, so nothing was authorized either.
    assert_eq!(
        Checkout::count(&c.payment_db, "SELECT count(*) FROM payments").await,
        10
    );
    c.stop().await;
}

/// The same, one level down: 200 concurrent reservations straight at inventory.
#[actix_web::test]
async fn concurrent_reservations_never_oversell() {
    let c = Checkout::start().await;
    let (auth, credential) = platform_testing::as_service(platform_config::Component::Order);
    let responses = join_all((0..200).map(|_| {
        c.http
            .post(c.inventory.url("/reservations"))
            .header(auth, &credential)
            .json(&serde_json::json!({
                "order_id": uuid::Uuid::new_v4(),
                "lines": [{ "sku": "hot-sneaker", "quantity": 1 }, { "sku": "mug", "quantity": 1 }],
            }))
            .send()
    }))
    .await;
    let created = responses
        .iter()
        .filter(|r| r.as_ref().unwrap().status() == 201)
        .count();
    assert_eq!(created, 10);
    let sneaker = c.product("hot-sneaker").await;
    assert_eq!(sneaker["available"], 0);
    assert_eq!(sneaker["reserved"], 10);
    // All or nothing: the mug was taken only by the 10 successful reservations.
    assert_eq!(c.product("mug").await["reserved"], 10);
    c.stop().await;
}
