//! The `payment.after_provider_approved` crash point (shared/runtime/src/crash.rs): the
//! payment service, as a real process, has the provider's approval and dies before
//! recording it. The payment stays `pending`. Driven as the order service's saga drives it:
//! its retry of the authorization is told "in progress" (the provider is never asked
//! twice), and its give-up at the deadline voids the payment. No money moves, once.

use std::time::Duration;

use platform_config::Component;
use platform_testing::{ServiceProcess, TestDatabase, TestVhost, as_service, free_port, process_env};
use serde_json::{Value, json};
use uuid::Uuid;

async fn call(
    p: &ServiceProcess,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value), reqwest::Error> {
    // As the order service: the authorization and the void accept no other caller.
    let (auth, credential) = as_service(Component::Order);
    let mut req = reqwest::Client::new()
        .request(method, p.url(path))
        .header(auth, credential);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await?;
    Ok((res.status().as_u16(), res.json().await?))
}

#[actix_web::test]
async fn a_crash_after_the_providers_approval_never_charges_and_never_asks_twice() {
    let (db, vhost) = (
        TestDatabase::create("payment").await,
        TestVhost::create("payment").await,
    );
    let mut env = process_env(Component::Payment, &db, &vhost, free_port());
    env.push(("CRASH_POINTS".into(), "payment.after_provider_approved".into()));
    let mut payment = ServiceProcess::start(Component::Payment, env!("CARGO_BIN_EXE_payment-service"), env);
    payment.wait_ready(Duration::from_secs(30)).await;

    let order_id = Uuid::new_v4();
    let authorize = json!({
        "order_id": order_id, "customer_id": "crash-shopper", "amount_minor": 2800,
        "currency": "EUR", "card_number": "4242424242424242",
    });
    let post = reqwest::Method::POST;
    assert!(
        call(
            &payment,
            post.clone(),
            "/payments/authorize",
            Some(authorize.clone())
        )
        .await
        .is_err(),
        "the process died before answering"
    );
    payment.wait_aborted(Duration::from_secs(10)).await;
    payment.restart_without(&["CRASH_POINTS"]);
    payment.wait_ready(Duration::from_secs(30)).await;

    // The saga's retry: never a second provider call for this order.
    let (status, body) = call(&payment, post.clone(), "/payments/authorize", Some(authorize))
        .await
        .unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("authorization_in_progress")),
        "{body:#}"
    );
    let (_, account) = call(&payment, reqwest::Method::GET, "/accounts/crash-shopper", None)
        .await
        .unwrap();
    let opening = account["balance_minor"].clone();
    assert_eq!(
        (account["held_minor"].as_i64(), account["captured_minor"].as_i64()),
        (Some(0), Some(0)),
        "{account:#}"
    );

    // The saga's give-up at the deadline: the void compensation.
    let (status, voided) = call(&payment, post, &format!("/payments/{order_id}/void"), None)
        .await
        .unwrap();
    assert_eq!(
        (status, voided["status"].as_str()),
        (200, Some("voided")),
        "{voided:#}"
    );
    let (_, payment_row) = call(
        &payment,
        reqwest::Method::GET,
        &format!("/payments/{order_id}"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(payment_row["provider_calls"], 1, "{payment_row:#}");
    assert_eq!(payment_row["status"], "voided");
    let (_, account) = call(&payment, reqwest::Method::GET, "/accounts/crash-shopper", None)
        .await
        .unwrap();
    assert_eq!(account["balance_minor"], opening, "no money moved: {account:#}");
    assert_eq!(
        (account["held_minor"].as_i64(), account["captured_minor"].as_i64()),
        (Some(0), Some(0))
    );
    payment.kill();
}
