//! The customer cancels a confirmed order (services/order/src/cancel.rs): the stock goes
//! back on sale, the money back to the customer exactly once (through the durable
//! compensations, even when the provider first answers 429), one cancellation email,
//! analytics counts it; a second cancel changes nothing; a shipped order cannot be cancelled.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

impl Checkout {
    /// The order's own customer cancels it.
    async fn cancel(&self, id: &str, key: &str) -> reqwest::Response {
        let owner = self.get_order(id).await["customer_id"]
            .as_str()
            .expect("the order names its customer")
            .to_string();
        self.http
            .post(self.order.url(&format!("/orders/{id}/cancel")))
            .header("Idempotency-Key", key)
            .bearer_auth(platform_testing::customer_token(&owner))
            .json(&json!({ "reason": "changed my mind" }))
            .send()
            .await
            .expect("order service answers")
    }
}

/// Both compensations done, and noted on the timeline (the note follows the status change).
fn refunds_done(o: &Value) -> bool {
    let noted = |kind: &str| {
        o["timeline"]
            .as_array()
            .is_some_and(|t| t.iter().any(|e| e["step"] == kind && e["outcome"] == "done"))
    };
    o["status"] == "cancelled"
        && o["compensations"]
            .as_array()
            .is_some_and(|cs| cs.len() == 2 && cs.iter().all(|c| c["status"] == "done"))
        && noted("return_stock")
        && noted("refund_payment")
}

#[actix_web::test]
async fn a_cancelled_order_gets_its_stock_and_money_back_once_even_through_a_rate_limited_refund() {
    let c = Checkout::start().await;
    let res = c.place(&key(), &order_body("lena", "mug", 2, CARD_SUCCESS)).await;
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.unwrap();
    let id = order["id"].as_str().unwrap().to_string();
    // The fan-out has committed the stock and captured the payment.
    let captured = format!("SELECT count(*) FROM payments WHERE order_id = '{id}' AND status = 'captured'");
    Checkout::eventually_count(&c.payment_db, &captured, 1).await;
    let committed =
        format!("SELECT count(*) FROM reservations WHERE order_id = '{id}' AND status = 'committed'");
    Checkout::eventually_count(&c.inventory_db, &committed, 1).await;
    let mug_before = c.product("mug").await;
    let before = c.get(&c.payment, "/accounts/lena").await;

    // The provider refuses the refund twice with 429 (the seeds' incident) before it works.
    c.fault(
        &c.payment,
        "refund",
        json!({ "mode": "rate_limit", "remaining": 2, "retry_after_secs": 1 }),
    )
    .await;
    let cancel_key = key();
    let res = c.cancel(&id, &cancel_key).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("idempotent-replayed").is_none());
    let cancelled: Value = res.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["reason_code"], "cancelled_by_customer");

    // A double click with the same key, and a retry with another: the same order, nothing again.
    for k in [cancel_key.clone(), key()] {
        let again = c.cancel(&id, &k).await;
        assert_eq!(again.status(), 200);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
    }

    let done = c.wait_order(&id, Duration::from_secs(20), refunds_done).await;
    let refund: Vec<&str> = done["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["step"] == "refund_payment")
        .map(|t| t["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(refund, ["retry_scheduled", "retry_scheduled", "done"], "{done:#}");

    // The money back once: captured -> refunded, the amount back in the balance.
    let refunded = format!("SELECT count(*) FROM payments WHERE order_id = '{id}' AND status = 'refunded'");
    assert_eq!(Checkout::count(&c.payment_db, &refunded).await, 1);
    let after = c.get(&c.payment, "/accounts/lena").await;
    let amount = order["total_minor"].as_i64().unwrap();
    assert_eq!(
        after["balance_minor"].as_i64().unwrap(),
        before["balance_minor"].as_i64().unwrap() + amount,
        "refunded once"
    );
    assert_eq!(
        after["captured_minor"].as_i64().unwrap(),
        before["captured_minor"].as_i64().unwrap() - amount
    );
    // The stock back on sale once: sold -> available.
    let mug = c.product("mug").await;
    assert_eq!(
        mug["sold"].as_i64().unwrap(),
        mug_before["sold"].as_i64().unwrap() - 2
    );
    assert_eq!(
        mug["available"].as_i64().unwrap(),
        mug_before["available"].as_i64().unwrap() + 2
    );
    // One cancellation email; analytics counts the cancellation.
    let emails = format!("SELECT count(*) FROM emails WHERE order_id = '{id}' AND kind = 'order_cancelled'");
    Checkout::eventually_count(&c.email_db, &emails, 1).await;
    let subject = format!(
        "SELECT count(*) FROM emails WHERE order_id = '{id}' AND subject LIKE '%cancelled and refunded%'"
    );
    assert_eq!(Checkout::count(&c.email_db, &subject).await, 1);
    let counted = "SELECT COALESCE(sum(orders), 0)::bigint FROM rejection_reasons WHERE reason_code = 'cancelled_by_customer'";
    Checkout::eventually_count(&c.analytics_db, counted, 1).await;
    c.eventually_consumers_drained().await;
    // Nothing dead-lettered: inventory and payment leave a customer's cancel to the order service.
    assert_eq!(Checkout::count(&c.email_db, &emails).await, 1);
    assert_eq!(Checkout::count(&c.analytics_db, counted).await, 1);
    c.stop().await;
}

#[actix_web::test]
async fn a_shipped_order_cannot_be_cancelled_and_nothing_moves() {
    let c = Checkout::start().await;
    let res = c.place(&key(), &order_body("milo", "mug", 1, CARD_SUCCESS)).await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let shipped = c.admin_post(&c.order, &format!("/admin/orders/{id}/ship")).await;
    assert_eq!(shipped.status(), 200);
    let res = c.cancel(&id, &key()).await;
    assert_eq!(res.status(), 409);
    let error: Value = res.json().await.unwrap();
    assert_eq!(error["error"]["code"], "already_shipped");
    let order = c.get_order(&id).await;
    assert_eq!(order["status"], "confirmed");
    assert!(order["compensations"].as_array().unwrap().is_empty());
    // Without an Idempotency-Key, a cancel is refused before anything is looked at.
    let res = c
        .http
        .post(c.order.url(&format!("/orders/{id}/cancel")))
        .bearer_auth(platform_testing::customer_token("milo"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // An order that is not confirmed (here: rejected) is not cancellable.
    let res = c
        .place(&key(), &order_body("milo", "mug", 1, CARD_DECLINED))
        .await;
    let rejected = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = c.cancel(&rejected, &key()).await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["code"],
        "not_cancellable"
    );
    c.stop().await;
}
