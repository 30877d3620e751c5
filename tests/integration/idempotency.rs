//! Idempotency-Key conformance for POST /orders.

use std::time::Duration;

use crate::support::*;
use futures_util::future::join_all;

#[actix_web::test]
async fn the_four_key_cases() {
    let c = Checkout::start().await;
    let body = order_body("alice", "mug", 1, CARD_SUCCESS);

    // Missing key: 400 naming the problem, nothing written.
    let res = c
        .http
        .post(c.order.url("/orders"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let err: serde_json::Value = res.json().await.unwrap();
    assert_eq!(err["error"]["code"], "missing_idempotency_key");

    // A key that is not visible ASCII is invalid, not missing.
    let res = c
        .http
        .post(c.order.url("/orders"))
        .header("Idempotency-Key", "clé 1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let err: serde_json::Value = res.json().await.unwrap();
    assert_eq!(err["error"]["code"], "invalid_idempotency_key");

    // Same key + same body: the first response, replayed (status and body).
    let k = key();
    let first = c.place(&k, &body).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body: serde_json::Value = first.json().await.unwrap();
    let again = c.place(&k, &body).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<serde_json::Value>().await.unwrap(), first_body);

    // Same key + different body: 422.
    let other = order_body("alice", "mug", 2, CARD_SUCCESS);
    let res = c.place(&k, &other).await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "idempotency_key_reused"
    );

    // Keys are scoped per customer: bob may use the same key for his own order.
    let res = c.place(&k, &order_body("bob", "mug", 1, CARD_SUCCESS)).await;
    assert_eq!(res.status(), 201);

    // Same key while the first is still running: 409. The slow card keeps it running.
    let slow = order_body("dave", "mug", 1, CARD_TIMEOUT);
    let k2 = key();
    let (a, b) = tokio::join!(c.place(&k2, &slow), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.place(&k2, &slow).await
    });
    assert_eq!(a.status(), 202, "a timed-out authorization is not a failure");
    assert_eq!(b.status(), 409);
    assert_eq!(
        b.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "request_in_flight"
    );

    assert_eq!(
        Checkout::count(
            &c.order_db,
            "SELECT count(*) FROM orders WHERE customer_id = 'alice'"
        )
        .await,
        1
    );
    c.stop().await;
}

#[actix_web::test]
async fn twenty_concurrent_requests_with_one_key_make_one_order_and_one_authorization() {
    let c = Checkout::start().await;
    let body = order_body("erin", "coffee-beans", 2, CARD_SUCCESS);
    let k = key();
    let responses = join_all((0..20).map(|_| c.place(&k, &body))).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
    assert!(statuses.contains(&201));

    assert_eq!(
        Checkout::count(&c.order_db, "SELECT count(*) FROM orders").await,
        1
    );
    assert_eq!(
        Checkout::count(&c.payment_db, "SELECT count(*) FROM payments").await,
        1
    );
    assert_eq!(
        Checkout::count(&c.payment_db, "SELECT sum(provider_calls)::bigint FROM payments").await,
        1
    );
    assert_eq!(
        Checkout::count(&c.inventory_db, "SELECT count(*) FROM reservations").await,
        1
    );
    // After the dust settles, every retry gets the one order.
    let replay = c.place(&k, &body).await;
    assert_eq!(replay.status(), 201);
    c.stop().await;
}

/// The retry of an order that exists gets that order even when the checkout is saturated:
/// told "503, nothing was ordered", the shopper would order again under a new key.
#[actix_web::test]
async fn a_retry_of_a_placed_order_gets_its_answer_while_the_checkout_is_saturated() {
    let c = Checkout::start_with(Knobs {
        checkout_max_in_flight: 1,
        ..Knobs::default()
    })
    .await;
    let (placed_key, placed_body) = (key(), order_body("erin", "mug", 1, CARD_SUCCESS));
    let placed = c.place(&placed_key, &placed_body).await;
    assert_eq!(placed.status(), 201);
    let placed: serde_json::Value = placed.json().await.unwrap();

    // A slow checkout holds the only permit while the retry and a new order arrive.
    let (slow_key, slow_body) = (key(), order_body("frank", "mug", 1, CARD_TIMEOUT));
    let (new_key, new_body) = (key(), order_body("gina", "mug", 1, CARD_SUCCESS));
    let (slow, (retry, new)) = tokio::join!(c.place(&slow_key, &slow_body), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        tokio::join!(c.place(&placed_key, &placed_body), c.place(&new_key, &new_body))
    });
    assert_eq!(slow.status(), 202);
    assert_eq!(new.status(), 503, "the checkout was saturated");
    assert_eq!(retry.status(), 201, "the retry hears of its order, not 503");
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(
        retry.json::<serde_json::Value>().await.unwrap()["id"],
        placed["id"]
    );
    let erin = "SELECT count(*) FROM orders WHERE customer_id = 'erin'";
    assert_eq!(Checkout::count(&c.order_db, erin).await, 1);
    c.stop().await;
}

/// The same while payment's circuit is open.
#[actix_web::test]
async fn a_retry_of_a_placed_order_gets_its_answer_while_a_circuit_is_open() {
    let c = Checkout::start().await;
    let (placed_key, placed_body) = (key(), order_body("hank", "mug", 1, CARD_SUCCESS));
    let placed = c.place(&placed_key, &placed_body).await;
    assert_eq!(placed.status(), 201);
    let placed: serde_json::Value = placed.json().await.unwrap();

    c.fault(&c.payment, "authorize", serde_json::json!({ "mode": "error" }))
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut opened = false;
    for i in 0.. {
        if tokio::time::Instant::now() > deadline {
            break;
        }
        let res = c
            .place(&key(), &order_body(&format!("open{i}"), "mug", 1, CARD_SUCCESS))
            .await;
        if res.status() == 503 {
            opened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(opened, "payment's circuit opened");
    let retry = c.place(&placed_key, &placed_body).await;
    assert_eq!(retry.status(), 201, "the retry hears of its order, not 503");
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(
        retry.json::<serde_json::Value>().await.unwrap()["id"],
        placed["id"]
    );
    c.stop().await;
}
