//! Bad input gets a clear 4xx JSON error and writes nothing.

use crate::support::*;
use platform_testing::customer_token;
use serde_json::json;

#[actix_web::test]
async fn bad_input_is_refused_clearly_and_writes_nothing() {
    let c = Checkout::start().await;
    let cases = vec![
        (
            "malformed JSON",
            c.http
                .post(c.order.url("/orders"))
                .header("content-type", "application/json")
                .body("{\"customer_id\": "),
            400,
            "invalid_json",
        ),
        (
            "unknown product",
            c.http
                .post(c.order.url("/orders"))
                .json(&order_body("mallory", "unicorn", 1, CARD_SUCCESS)),
            422,
            "unknown_product",
        ),
        (
            "quantity 0",
            c.http
                .post(c.order.url("/orders"))
                .json(&order_body("mallory", "mug", 0, CARD_SUCCESS)),
            400,
            "invalid_request",
        ),
        (
            "negative quantity",
            c.http
                .post(c.order.url("/orders"))
                .json(&order_body("mallory", "mug", -3, CARD_SUCCESS)),
            400,
            "invalid_request",
        ),
        (
            "absurd quantity",
            c.http.post(c.order.url("/orders")).json(&order_body(
                "mallory",
                "mug",
                1_000_000_000_000,
                CARD_SUCCESS,
            )),
            400,
            "invalid_request",
        ),
        (
            "empty lines",
            c.http
                .post(c.order.url("/orders"))
                .json(&json!({"customer_id": "mallory", "lines": [], "card_number": CARD_SUCCESS})),
            400,
            "invalid_request",
        ),
        (
            "missing field",
            c.http
                .post(c.order.url("/orders"))
                .json(&json!({"customer_id": "mallory", "lines": [{"sku": "mug", "quantity": 1}]})),
            400,
            "invalid_json",
        ),
        (
            "bad card",
            c.http
                .post(c.order.url("/orders"))
                .json(&order_body("mallory", "mug", 1, "not-a-card")),
            400,
            "invalid_request",
        ),
        (
            // The token says who orders; a body naming anyone else is refused.
            "hostile customer id",
            c.http
                .post(c.order.url("/orders"))
                .json(&order_body("<script>", "mug", 1, CARD_SUCCESS)),
            403,
            "forbidden_customer",
        ),
        (
            "oversized body",
            c.http
                .post(c.order.url("/orders"))
                .header("content-type", "application/json")
                .body(format!("{{\"customer_id\": \"{}\"}}", "x".repeat(100_000))),
            413,
            "body_too_large",
        ),
        (
            "not JSON",
            c.http
                .post(c.order.url("/orders"))
                .header("content-type", "text/plain")
                .body("hello"),
            415,
            "unsupported_media_type",
        ),
    ];
    for (name, request, status, code) in cases {
        let res = request
            .header("Idempotency-Key", key())
            .bearer_auth(customer_token("mallory"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status, "{name}");
        let body: serde_json::Value = res
            .json()
            .await
            .unwrap_or_else(|e| panic!("{name}: JSON body: {e}"));
        assert_eq!(body["error"]["code"], code, "{name}: {body}");
        assert!(
            body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{name}: {body}"
        );
    }
    let bad_path = c
        .http
        .get(c.order.url("/orders/not-a-uuid"))
        .bearer_auth(customer_token("mallory"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_path.status(), 400);

    assert_eq!(
        Checkout::count(&c.order_db, "SELECT count(*) FROM orders").await,
        0
    );
    assert_eq!(
        Checkout::count(&c.order_db, "SELECT count(*) FROM idempotency_keys").await,
        0
    );
    assert_eq!(
        Checkout::count(&c.inventory_db, "SELECT count(*) FROM reservations").await,
        0
    );
    assert_eq!(
        Checkout::count(&c.payment_db, "SELECT count(*) FROM payments").await,
        0
    );
    c.stop().await;
}
