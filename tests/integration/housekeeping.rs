//! Housekeeping that keeps a long-running platform healthy: records past their retention are
//! purged (and only those), and emails that ran out of attempts can be sent again.

use std::time::Duration;

use crate::support::*;

/// Runs `sql` (an UPDATE or DELETE) and returns how many rows it touched.
async fn rows(db: &platform_testing::TestDatabase, sql: &str) -> i64 {
    db.scalar(&format!(
        "WITH touched AS ({sql} RETURNING 1) SELECT count(*) FROM touched"
    ))
    .await
}

/// Deduplication records older than the retention, and idempotency keys past their expiry,
/// are deleted by the background jobs; recent ones stay (a redelivery within the window is
/// still recognised, a retry with a live key still gets its order).
#[actix_web::test]
async fn the_purge_removes_only_records_past_their_retention() {
    let c = Checkout::start().await;
    let (old_key, new_key) = (key(), key());
    let old = c
        .place(&old_key, &order_body("ivy", "mug", 1, CARD_SUCCESS))
        .await;
    let new = c
        .place(&new_key, &order_body("jack", "mug", 1, CARD_SUCCESS))
        .await;
    assert_eq!((old.status().as_u16(), new.status().as_u16()), (201, 201));
    let old: serde_json::Value = old.json().await.unwrap();
    let new: serde_json::Value = new.json().await.unwrap();
    let (old_id, new_id) = (old["id"].as_str().unwrap(), new["id"].as_str().unwrap());

    // Every consumer recorded what it applied for both orders (one event each: confirmed).
    // Waited for record by record: the broker's queue statistics lag by a second, so an
    // "empty" queue does not prove that its consumer has committed.
    let applied = |id: &str| format!("SELECT count(*) FROM processed_events WHERE aggregate_id = '{id}'");
    for db in [&c.email_db, &c.analytics_db, &c.inventory_db, &c.payment_db] {
        for id in [old_id, new_id] {
            Checkout::eventually_count(db, &applied(id), 1).await;
        }
    }
    let recent = Checkout::count(&c.email_db, &applied(new_id)).await;

    // The old order's records are made eight days old: past the seven days' retention.
    let backdate = |id: &str| {
        format!(
            "UPDATE processed_events SET processed_at = now() - interval '8 days' WHERE aggregate_id = '{id}'"
        )
    };
    for db in [&c.email_db, &c.analytics_db, &c.inventory_db, &c.payment_db] {
        rows(db, &backdate(old_id)).await;
    }
    for db in [&c.email_db, &c.analytics_db] {
        Checkout::eventually_count(db, &applied(old_id), 0).await;
    }
    assert_eq!(Checkout::count(&c.email_db, &applied(new_id)).await, recent);

    // The same for idempotency keys: the expired one goes, the live one stays.
    let expire = format!(
        "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = '{old_key}'"
    );
    assert_eq!(rows(&c.order_db, &expire).await, 1);
    let keys = |k: &str| format!("SELECT count(*) FROM idempotency_keys WHERE key = '{k}'");
    Checkout::eventually_count(&c.order_db, &keys(&old_key), 0).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(Checkout::count(&c.order_db, &keys(&new_key)).await, 1);
    c.stop().await;
}

/// An email that ran out of attempts is listed as failed and, once the mail server is back,
/// goes out on the operator's retry; a second retry finds nothing to do.
#[actix_web::test]
async fn failed_emails_go_out_when_an_operator_retries_them() {
    let c = Checkout::start().await;
    c.fault(&c.email, "deliver", serde_json::json!({ "mode": "error" }))
        .await;
    let order = c.place(&key(), &order_body("kate", "mug", 1, CARD_SUCCESS)).await;
    assert_eq!(order.status(), 201);
    let order: serde_json::Value = order.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    let email = format!("SELECT count(*) FROM emails WHERE order_id = '{id}' AND attempts > 0");
    Checkout::eventually_count(&c.email_db, &email, 1).await;
    // Skip the backoff of the first seven attempts: the next failure is the last (of eight).
    rows(
        &c.email_db,
        &format!("UPDATE emails SET attempts = 7, next_attempt_at = now() WHERE order_id = '{id}'"),
    )
    .await;
    let failed = c
        .eventually(&c.email, "/emails?status=failed", |list| {
            list.as_array().is_some_and(|l| l.len() == 1)
        })
        .await;
    assert_eq!(failed[0]["order_id"], id);

    c.clear_fault(&c.email, "deliver").await;
    let retried: serde_json::Value = c
        .admin_post(&c.email, "/admin/emails/retry-failed")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(retried["retried"], 1);
    let sent = format!("SELECT count(*) FROM emails WHERE order_id = '{id}' AND status = 'sent'");
    Checkout::eventually_count(&c.email_db, &sent, 1).await;
    let again: serde_json::Value = c
        .admin_post(&c.email, "/admin/emails/retry-failed")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["retried"], 0);
    // Without the admin token, nothing is retried.
    let res = c
        .http
        .post(c.email.url("/admin/emails/retry-failed"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    c.stop().await;
}
