//! A database that cannot be reached is an expected condition, not a bug: while the order
//! service's PostgreSQL is gone, `POST /orders` answers 503 `database_unavailable` with
//! Retry-After (never 500), readiness says so, and the shopper's retry with the same
//! Idempotency-Key succeeds once the database is back, with one order.

use std::time::Duration;

use platform_testing::{TEST_ADMIN_TOKEN, TcpProxy, spawn};
use serde_json::Value;

use crate::support::*;

#[actix_web::test]
async fn checkouts_answer_503_with_retry_after_while_the_database_is_unreachable() {
    let knobs = Knobs::default();
    let b = Backends::start(&knobs).await;
    // The order service reaches its database through a proxy the test can cut, as if
    // PostgreSQL had crashed, without touching the server other tests use.
    let proxy = TcpProxy::start(b.order_db.server_addr()).await;
    let mut settings = b.order_settings(&knobs);
    settings.service.database_url = b.order_db.url_via(proxy.port);
    let order = spawn(order_service::build(settings).await.expect("order builds"));
    order.wait_ready(Duration::from_secs(15)).await;
    let http = reqwest::Client::new();
    let place = |key: String| {
        let (http, url) = (http.clone(), order.url("/orders"));
        async move {
            http.post(url)
                .header("Idempotency-Key", key)
                .bearer_auth(platform_testing::customer_token("olga"))
                .json(&order_body("olga", "notebook", 1, CARD_SUCCESS))
                .send()
                .await
                .unwrap()
        }
    };

    proxy.cut();
    let key = key();
    for _ in 0..3 {
        let res = place(key.clone()).await;
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()["retry-after"], "1");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "database_unavailable", "{body:#}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Idempotency-Key"),
            "{body:#}"
        );
    }
    let ready = http.get(order.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let ready: Value = ready.json().await.unwrap();
    assert_ne!(ready["checks"]["database"], "ok", "{ready:#}");

    proxy.restore();
    order.wait_ready(Duration::from_secs(15)).await;
    let res = place(key.clone()).await;
    assert_eq!(res.status(), 201);
    let confirmed: Value = res.json().await.unwrap();
    assert_eq!(confirmed["status"], "confirmed", "{confirmed:#}");
    assert_eq!(
        Checkout::count(&b.order_db, "SELECT count(*) FROM orders").await,
        1
    );
    order.stop().await;
    b.stop().await;
}

/// The demo's switch (`POST /admin/database/outage`) is a real outage: the order database
/// refuses connections and its sessions are cut, checkouts get 503 with Retry-After, a
/// second switch is refused while the first holds, and when the time is up the database
/// lets the service in again by itself: the shopper's retry with the same key gets one
/// order.
#[actix_web::test]
async fn the_outage_switch_takes_the_database_away_and_gives_it_back() {
    let c = Checkout::start().await;
    let outage = |seconds: u64| {
        c.http
            .post(c.order.url("/admin/database/outage"))
            .bearer_auth(TEST_ADMIN_TOKEN)
            .json(&serde_json::json!({ "seconds": seconds }))
            .send()
    };
    let res = outage(3).await.unwrap();
    assert_eq!(res.status(), 200);
    let started: Value = res.json().await.unwrap();
    assert!(started["sessions_cut"].as_i64().unwrap() >= 1, "{started:#}");
    let again = outage(3).await.unwrap();
    assert_eq!(again.status(), 409);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["error"]["code"], "outage_in_progress", "{again:#}");

    let key = key();
    let body = order_body("dora", "notebook", 1, CARD_SUCCESS);
    let res = c.place(&key, &body).await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "1");
    let refused: Value = res.json().await.unwrap();
    assert_eq!(refused["error"]["code"], "database_unavailable", "{refused:#}");

    // Nobody ends the outage: it ends by itself.
    c.order.wait_ready(Duration::from_secs(20)).await;
    let res = c.place(&key, &body).await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        Checkout::count(&c.order_db, "SELECT count(*) FROM orders").await,
        1
    );
    for seconds in [0, 61] {
        assert_eq!(outage(seconds).await.unwrap().status(), 400, "{seconds} s");
    }
    c.stop().await;
}
