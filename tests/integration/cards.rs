//! Every test card's outcome, end to end through the critical path, including what the
//! system does when the outcome is unknown and when undoing fails.

use std::time::Duration;

use crate::support::*;
use serde_json::{Value, json};

fn compensations_done(o: &Value) -> bool {
    terminal(o)
        && o["compensations"]
            .as_array()
            .is_some_and(|cs| cs.iter().all(|c| c["status"] == "done"))
}

#[actix_web::test]
async fn success_confirms_and_carries_the_correlation_id_everywhere() {
    let c = Checkout::start().await;
    let res = c
        .http
        .post(c.order.url("/orders"))
        .header("Idempotency-Key", key())
        .header("X-Correlation-Id", "checkout-corr-1")
        .bearer_auth(platform_testing::customer_token("alice"))
        .json(&order_body("alice", "grinder", 2, CARD_SUCCESS))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["x-correlation-id"], "checkout-corr-1");
    let order: Value = res.json().await.unwrap();
    assert_eq!(order["status"], "confirmed");
    assert_eq!(order["total_minor"], 2 * 14900);
    assert_eq!(order["correlation_id"], "checkout-corr-1");
    let steps: Vec<&str> = order["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["create", "reserve", "authorize", "confirm"]);

    let id = order["id"].as_str().unwrap();
    // Then the fan-out: the stock is committed and the payment captured by the consumers
    // of order.confirmed, shortly after the shopper got the answer.
    let reservation = c
        .eventually(&c.inventory, &format!("/reservations/{id}"), |r| {
            r["status"] == "committed"
        })
        .await;
    assert_eq!(reservation["correlation_id"], "checkout-corr-1");
    let payment = c
        .eventually(&c.payment, &format!("/payments/{id}"), |p| {
            p["status"] == "captured"
        })
        .await;
    assert_eq!(payment["amount_minor"], 2 * 14900);
    assert_eq!(payment["correlation_id"], "checkout-corr-1");

    // Must-be-fresh read: the order is listed right away.
    let list: Value = c.get(&c.order, "/orders?customer=alice").await;
    assert_eq!(list[0]["id"], order["id"]);
    c.stop().await;
}

#[actix_web::test]
async fn declines_reject_the_order_and_release_the_stock() {
    let c = Checkout::start().await;
    let initial = c.product("backpack").await["available"].as_i64().unwrap();
    for (customer, card, code) in [
        ("alice", CARD_DECLINED, "card_declined"),
        ("bob", CARD_INSUFFICIENT_FUNDS, "insufficient_funds"),
        // carol's account holds 50.00: the provider approves, the balance does not.
        ("carol", CARD_SUCCESS, "insufficient_funds"),
    ] {
        let res = c.place(&key(), &order_body(customer, "backpack", 1, card)).await;
        assert_eq!(res.status(), 402, "{customer}");
        let order: Value = res.json().await.unwrap();
        assert_eq!(order["status"], "rejected");
        assert_eq!(order["reason_code"], "payment_declined");
        assert!(order["reason"].as_str().unwrap().contains(code), "{order}");
        assert_eq!(order["error"]["code"], "payment_declined");
        let done = c
            .wait_order(
                order["id"].as_str().unwrap(),
                Duration::from_secs(10),
                compensations_done,
            )
            .await;
        assert_eq!(done["compensations"][0]["kind"], "release_reservation");
    }
    let product = c.product("backpack").await;
    assert_eq!(
        product["available"].as_i64().unwrap(),
        initial,
        "every held unit came back"
    );
    assert_eq!(product["reserved"], 0);
    // Nothing was held on carol's account.
    let carol: Value = c.get(&c.payment, "/accounts/carol").await;
    assert_eq!(carol["held_minor"], 0);
    c.stop().await;
}

#[actix_web::test]
async fn a_timed_out_authorization_is_finished_by_the_reconciler_without_double_authorization() {
    let c = Checkout::start().await;
    let res = c
        .place(&key(), &order_body("dave", "pour-over", 1, CARD_TIMEOUT))
        .await;
    assert_eq!(res.status(), 202, "unknown outcome: not a failure");
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/orders/")
    );
    let order: Value = res.json().await.unwrap();
    assert_eq!(order["status"], "stock_reserved");
    let id = order["id"].as_str().unwrap().to_string();

    let done = c.wait_order(&id, Duration::from_secs(15), terminal).await;
    assert_eq!(done["status"], "confirmed");
    let actors: Vec<&str> = done["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["actor"].as_str().unwrap())
        .collect();
    assert!(
        actors.contains(&"reconciler"),
        "the reconciler finished it: {done:#}"
    );
    assert_eq!(
        Checkout::count(
            &c.payment_db,
            &format!("SELECT provider_calls::bigint FROM payments WHERE order_id = '{id}'")
        )
        .await,
        1,
        "the provider was called once, however often the order service asked"
    );
    let account = c
        .eventually(&c.payment, "/accounts/dave", |a| a["captured_minor"] == 5900)
        .await;
    assert_eq!(account["held_minor"], 0, "held once, then captured once");
    c.stop().await;
}

#[actix_web::test]
async fn rate_limited_and_failing_providers_end_cancelled_at_the_deadline_with_everything_undone() {
    let c = Checkout::start_with(Knobs {
        order_deadline: Duration::from_secs(3),
        ..Knobs::default()
    })
    .await;
    for card in [CARD_RATE_LIMITED, CARD_PROVIDER_ERROR] {
        let res = c.place(&key(), &order_body("alice", "desk-lamp", 1, card)).await;
        assert_eq!(res.status(), 202, "{card}: retried later, not failed");
        let order: Value = res.json().await.unwrap();
        let done = c
            .wait_order(
                order["id"].as_str().unwrap(),
                Duration::from_secs(15),
                compensations_done,
            )
            .await;
        assert_eq!(done["status"], "cancelled", "{done:#}");
        assert_eq!(done["reason_code"], "deadline_exceeded");
        let kinds: Vec<&str> = done["compensations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["kind"].as_str().unwrap())
            .collect();
        assert!(
            kinds.contains(&"void_authorization") && kinds.contains(&"release_reservation"),
            "{kinds:?}"
        );
        let retries = done["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["outcome"] == "retry_scheduled")
            .count();
        assert!(retries >= 2, "the step was retried before giving up: {done:#}");
    }
    assert_eq!(c.product("desk-lamp").await["reserved"], 0);
    let alice: Value = c.get(&c.payment, "/accounts/alice").await;
    assert_eq!(alice["held_minor"], 0);
    c.stop().await;
}

#[actix_web::test]
async fn a_rate_limited_compensation_is_retried_and_completes() {
    let c = Checkout::start().await;
    c.fault(
        &c.inventory,
        "release",
        json!({ "mode": "rate_limit", "remaining": 2, "retry_after_secs": 1 }),
    )
    .await;
    let res = c
        .place(&key(), &order_body("alice", "plant", 1, CARD_DECLINED))
        .await;
    assert_eq!(res.status(), 402);
    let order: Value = res.json().await.unwrap();
    let done = c
        .wait_order(
            order["id"].as_str().unwrap(),
            Duration::from_secs(15),
            compensations_done,
        )
        .await;
    let release: Vec<&Value> = done["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["step"] == "release_reservation")
        .collect();
    let outcomes: Vec<&str> = release.iter().map(|t| t["outcome"].as_str().unwrap()).collect();
    assert_eq!(
        outcomes,
        ["retry_scheduled", "retry_scheduled", "done"],
        "{done:#}"
    );
    assert!(release[0]["detail"].as_str().unwrap().contains("429"));
    assert_eq!(done["compensations"][0]["attempts"], 3);
    assert_eq!(c.product("plant").await["reserved"], 0);
    // The compensation's last change and the `done` that tells it on the timeline were
    // written by one transaction (rows of one transaction share its id, `xmin`): a reader
    // can never see the one without the other. Written apart, a CI run once read the
    // compensation done with no `done` on the timeline.
    let together = Checkout::count(
        &c.order_db,
        &format!(
            "SELECT count(*) FROM compensations c JOIN order_timeline t
               ON t.order_id = c.order_id AND t.step = c.kind AND t.outcome = 'done' AND t.xmin = c.xmin
             WHERE c.order_id = '{}'",
            order["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(
        together, 1,
        "the compensation and its timeline entry were committed apart"
    );
    c.stop().await;
}

#[actix_web::test]
async fn a_compensation_that_keeps_failing_is_parked_and_an_operator_can_retry_it() {
    let c = Checkout::start_with(Knobs {
        compensation_max_attempts: 3,
        ..Knobs::default()
    })
    .await;
    c.fault(&c.inventory, "release", json!({ "mode": "error" })).await;
    let res = c
        .place(&key(), &order_body("alice", "socks", 2, CARD_DECLINED))
        .await;
    let order: Value = res.json().await.unwrap();
    let id = order["id"].as_str().unwrap().to_string();
    let parked = c
        .wait_order(&id, Duration::from_secs(15), |o| {
            o["compensations"][0]["status"] == "parked"
        })
        .await;
    assert_eq!(parked["compensations"][0]["attempts"], 3);
    assert_eq!(c.product("socks").await["reserved"], 2, "still held while parked");

    // Admin endpoints need the token.
    let anonymous = c
        .http
        .get(c.order.url("/admin/compensations?status=parked"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let listed = c.admin_get(&c.order, "/admin/compensations?status=parked").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let compensation_id = listed[0]["id"].as_str().unwrap().to_string();

    // The cause is fixed; the operator presses "retry".
    c.clear_fault(&c.inventory, "release").await;
    let retried = c
        .admin_post(&c.order, &format!("/admin/compensations/{compensation_id}/retry"))
        .await;
    assert_eq!(retried.status(), 200);
    c.wait_order(&id, Duration::from_secs(10), compensations_done)
        .await;
    assert_eq!(c.product("socks").await["reserved"], 0);
    // Retrying something not parked is a clear 404.
    let again = c
        .admin_post(&c.order, &format!("/admin/compensations/{compensation_id}/retry"))
        .await;
    assert_eq!(again.status(), 404);
    c.stop().await;
}
