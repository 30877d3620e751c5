//! The live integrity check (services/order/src/integrity.rs): the order service asks each
//! consuming service about its recently confirmed orders and reports lost and duplicated
//! effects, as metrics, alerts and `GET /ops/integrity`.

use crate::support::*;
use serde_json::Value;

async fn integrity(c: &Checkout, done: impl Fn(&Value) -> bool) -> Value {
    c.eventually(&c.order, "/ops/integrity", done).await
}

async fn confirmed(c: &Checkout, customer: &str) -> String {
    let order: Value = c
        .place(&key(), &order_body(customer, "notebook", 1, CARD_SUCCESS))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(order["status"], "confirmed", "{order:#}");
    order["id"].as_str().unwrap().to_string()
}

#[actix_web::test]
async fn a_missing_or_doubled_effect_is_reported_while_the_platform_runs() {
    let c = Checkout::start().await;
    let first = confirmed(&c, "ivy").await;
    // Past the settle time, every effect is there once. (Waited for: on a slow machine an
    // effect may land after the 2 s settle time, and the next pass, 300 ms on, sees it.)
    let report = integrity(&c, |r| r["checked_orders"] == 1 && r["lost"] == 0).await;
    assert_eq!(
        (report["lost"].as_u64(), report["duplicated"].as_u64()),
        (Some(0), Some(0)),
        "{report:#}"
    );
    assert_eq!(report["unreachable"], serde_json::json!([]));

    // The email consumer stops: the next order's confirmation is never sent, and once the
    // settle time has passed, that order counts as lost, with the reason, and an alert fires.
    assert_eq!(
        c.admin_post(&c.email, "/admin/consumers/email/pause")
            .await
            .status(),
        200
    );
    let second = confirmed(&c, "jay").await;
    let report = integrity(&c, |r| r["lost"] == 1).await;
    assert_eq!(report["findings"][0]["order_id"], second.as_str(), "{report:#}");
    let problem = report["findings"][0]["problems"][0].as_str().unwrap();
    assert!(
        problem.starts_with("email: confirmation email sent 0 times"),
        "{problem}"
    );
    c.eventually(&c.order, "/ops/alerts", |a| a.to_string().contains("orders_lost"))
        .await;
    // (The `orders_lost` gauge is set from the same report; it is not read here: the
    // metrics recorder is global to this test binary, whose other tests set it too.)
    // Resumed, the email goes out and the order is whole again.
    assert_eq!(
        c.admin_post(&c.email, "/admin/consumers/email/resume")
            .await
            .status(),
        200
    );
    integrity(&c, |r| r["lost"] == 0 && r["checked_orders"] == 2).await;

    // A card charged twice for one order (as if the provider had been called again) is a
    // duplicate.
    Checkout::count(
        &c.payment_db,
        &format!("WITH d AS (UPDATE payments SET provider_calls = 2 WHERE order_id = '{first}' RETURNING 1) SELECT count(*) FROM d"),
    )
    .await;
    let report = integrity(&c, |r| r["duplicated"] == 1).await;
    assert_eq!(report["findings"][0]["order_id"], first.as_str(), "{report:#}");
    c.eventually(&c.order, "/ops/alerts", |a| {
        a.to_string().contains("effects_duplicated")
    })
    .await;
    c.stop().await;
}
