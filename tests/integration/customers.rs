//! Who may read and act on an order (shared/http/src/customer_auth.rs): the customer the
//! token names, never the body; another customer's order, account and emails are "not
//! found" to them, their cancel changes nothing; no token or a forged one is a 401.

use std::time::Duration;

use platform_http::CustomerKeys;
use platform_testing::customer_token;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

#[actix_web::test]
async fn a_customer_reads_and_acts_on_their_own_orders_only() {
    let c = Checkout::start().await;
    let (ada, grace) = (customer_token("ada"), customer_token("grace"));
    let send = |req: reqwest::RequestBuilder| async move {
        let res = req.send().await.unwrap();
        let status = res.status();
        (status, res.json::<Value>().await.unwrap_or(Value::Null))
    };

    // No token, a forged token: refused before anything is written.
    let body = order_body("ada", "mug", 1, CARD_SUCCESS);
    let post = || {
        c.http
            .post(c.order.url("/orders"))
            .header("Idempotency-Key", key())
            .json(&body)
    };
    let (status, refused) = send(post()).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );
    let forged = CustomerKeys::new("not the platform's secret").issue("ada").0;
    let (status, refused) = send(post().bearer_auth(&forged)).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    // Grace cannot order in Ada's name.
    let (status, refused) = send(post().bearer_auth(&grace)).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden_customer"))
    );
    assert_eq!(
        Checkout::count(&c.order_db, "SELECT count(*) FROM orders").await,
        0
    );

    // Ada orders, naming nobody: the token says who.
    let (status, placed) = send(
        c.http
            .post(c.order.url("/orders"))
            .header("Idempotency-Key", key())
            .bearer_auth(&ada)
            .json(&json!({ "lines": [{ "sku": "mug", "quantity": 1 }], "card_number": CARD_SUCCESS })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{placed:#}");
    assert_eq!(placed["customer_id"], "ada");
    let id = placed["id"].as_str().unwrap().to_string();
    c.wait_order(&id, Duration::from_secs(20), |o| o["status"] == "confirmed")
        .await;
    c.eventually(&c.email, &format!("/emails?order_id={id}"), |e| {
        e.as_array().is_some_and(|a| !a.is_empty())
    })
    .await;

    let get = |path: String, token: &str| c.http.get(c.order.url(&path)).bearer_auth(token.to_string());
    // Ada sees her order, its journey and her list.
    assert_eq!(send(get(format!("/orders/{id}"), &ada)).await.0, StatusCode::OK);
    assert_eq!(
        send(get(format!("/orders/{id}/journey"), &ada)).await.0,
        StatusCode::OK
    );
    let (_, list) = send(get("/orders".into(), &ada)).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list:#}");
    // Grace sees none of it: not found, not even "forbidden" (which would say it exists).
    assert_eq!(
        send(get(format!("/orders/{id}"), &grace)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(get(format!("/orders/{id}/journey"), &grace)).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, list) = send(get("/orders".into(), &grace)).await;
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list:#}");
    let (status, refused) = send(get("/orders?customer=ada".into(), &grace)).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden_customer"))
    );
    // ... nor her account or her emails.
    let account = |token: &str| {
        c.http
            .get(c.payment.url("/accounts/ada"))
            .bearer_auth(token.to_string())
    };
    assert_eq!(send(account(&ada)).await.0, StatusCode::OK);
    assert_eq!(send(account(&grace)).await.0, StatusCode::NOT_FOUND);
    let emails = |token: &str| {
        c.http
            .get(c.email.url(&format!("/emails?order_id={id}")))
            .bearer_auth(token.to_string())
    };
    assert_eq!(send(emails(&ada)).await.1.as_array().map(Vec::len), Some(1));
    assert_eq!(send(emails(&grace)).await.1.as_array().map(Vec::len), Some(0));

    // Grace's cancel of Ada's order: not found, and nothing moved.
    let (status, _) = send(
        c.http
            .post(c.order.url(&format!("/orders/{id}/cancel")))
            .header("Idempotency-Key", key())
            .bearer_auth(&grace),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let order = c.get_order(&id).await;
    assert_eq!(order["status"], "confirmed");
    assert!(order["compensations"].as_array().unwrap().is_empty());
    // Ada's own cancel works.
    let (status, cancelled) = send(
        c.http
            .post(c.order.url(&format!("/orders/{id}/cancel")))
            .header("Idempotency-Key", key())
            .bearer_auth(&ada),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{cancelled:#}");
    assert_eq!(cancelled["status"], "cancelled");
    c.stop().await;
}
