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

/// A hot product in `batched` mode (services/inventory/src/batching.rs): 300 buyers of 100
/// units, some sending their reservation twice at once. Exactly 100 orders hold a unit, each
/// once; the rest are told `insufficient_stock` and hold nothing; stock is conserved; and
/// the reservations were taken many per transaction (rows sharing a transaction id), where
/// `row` mode takes one each.
#[actix_web::test]
async fn a_hot_product_in_batched_mode_is_reserved_many_per_transaction_and_never_oversold() {
    use platform_contracts::inventory::{ProductReservationMode, ReservationMode, reservation_mode_path};
    let c = Checkout::start().await;
    let set_mode = c
        .http
        .put(c.inventory.url(&reservation_mode_path("hot-sneaker")))
        .bearer_auth(platform_testing::TEST_ADMIN_TOKEN)
        .json(&ProductReservationMode {
            sku: "hot-sneaker".into(),
            mode: ReservationMode::Batched,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(set_mode.status(), 200);
    let restocked = c
        .http
        .post(c.inventory.url("/admin/products/hot-sneaker/restock"))
        .bearer_auth(platform_testing::TEST_ADMIN_TOKEN)
        .header("Idempotency-Key", key())
        .json(&serde_json::json!({ "quantity": 90 }))
        .send()
        .await
        .unwrap();
    assert_eq!(restocked.status(), 201);

    let (auth, credential) = platform_testing::as_service(platform_config::Component::Order);
    let buyers: Vec<uuid::Uuid> = (0..300).map(|_| uuid::Uuid::new_v4()).collect();
    // The first 20 buyers' reservations are sent twice, at the same moment.
    let sent: Vec<uuid::Uuid> = buyers.iter().chain(&buyers[..20]).copied().collect();
    let answers = join_all(sent.iter().map(|order_id| {
        let request = c
            .http
            .post(c.inventory.url("/reservations"))
            .header(auth, &credential)
            .json(&serde_json::json!({
                "order_id": order_id,
                "lines": [{ "sku": "hot-sneaker", "quantity": 1 }],
            }))
            .send();
        async move {
            let res = request.await.unwrap();
            let status = res.status().as_u16();
            (*order_id, status, res.json::<serde_json::Value>().await.unwrap())
        }
    }))
    .await;

    let mut holding = std::collections::HashSet::new();
    for (order_id, status, body) in &answers {
        match status {
            201 | 200 => {
                assert_eq!(body["order_id"], order_id.to_string());
                holding.insert(*order_id);
            }
            409 => assert_eq!(body["error"]["code"], "insufficient_stock", "{body:#}"),
            other => panic!("{order_id}: {other} {body:#}"),
        }
    }
    let created = answers.iter().filter(|(_, status, _)| *status == 201).count();
    // A second copy is answered from the first (200), never reserved again (a copy refused
    // before the other took a unit may be 409: a retry after a refusal may find stock).
    assert_eq!(
        (holding.len(), created),
        (100, 100),
        "each unit to one order, created once"
    );
    let sneaker = c.product("hot-sneaker").await;
    let (available, reserved, sold, initial) = (
        sneaker["available"].as_i64().unwrap(),
        sneaker["reserved"].as_i64().unwrap(),
        sneaker["sold"].as_i64().unwrap(),
        sneaker["initial_stock"].as_i64().unwrap(),
    );
    assert_eq!((available, reserved), (0, 100));
    assert_eq!(available + reserved + sold, initial, "stock is conserved");
    let stored = |sql| Checkout::count(&c.inventory_db, sql);
    assert_eq!(
        stored("SELECT count(*) FROM reservations").await,
        100,
        "a refused order holds no claim"
    );
    assert_eq!(
        stored("SELECT coalesce(sum(quantity), 0) FROM reservation_lines").await,
        100
    );
    let transactions = stored("SELECT count(DISTINCT xmin::text) FROM reservations").await;
    assert!(
        transactions < 100,
        "100 reservations in {transactions} transactions: not batched"
    );
    c.stop().await;
}
