//! A database that cannot be reached is an expected condition, not a bug: while the order
//! service's PostgreSQL is gone, `POST /orders` answers 503 `database_unavailable` with
//! Retry-After (never 500), readiness says so, and the shopper's retry with the same
//! Idempotency-Key succeeds once the database is back, with one order.

use std::time::Duration;

use platform_testing::{TcpProxy, spawn};
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
