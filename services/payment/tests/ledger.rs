//! Payment semantics, straight against the payment API.
use std::time::Duration;

use payment_service::provider::{CARD_RATE_LIMITED, CARD_SUCCESS, CARD_TIMEOUT};
use platform_config::Component;
use platform_testing::{
    RunningService, TestDatabase, TestVhost, as_service, assert_only_the_owner_may_call, service_settings,
    spawn,
};
use serde_json::{Value, json};
use uuid::Uuid;

async fn start() -> (RunningService, TestDatabase, TestVhost) {
    let db = TestDatabase::create("payment").await;
    let vhost = TestVhost::create("payment").await;
    let mut settings = payment_service::Settings::new(service_settings(Component::Payment, &db, &vhost));
    settings.provider_slow = Duration::from_millis(800);
    let service = spawn(payment_service::build(settings).await.unwrap());
    (service, db, vhost)
}

async fn post(url: String, body: Option<Value>) -> (u16, Value) {
    // As the order service, the only caller money movements accept.
    let (auth, credential) = as_service(Component::Order);
    let req = reqwest::Client::new().post(url).header(auth, credential);
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn account(s: &RunningService, customer: &str) -> Value {
    // The customer's own read (anyone else's is a 404).
    reqwest::Client::new()
        .get(s.url(&format!("/accounts/{customer}")))
        .bearer_auth(platform_testing::customer_token(customer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn authorize(order: Uuid, customer: &str, amount: i64, card: &str) -> Value {
    json!({ "order_id": order, "customer_id": customer, "amount_minor": amount, "currency": "EUR", "card_number": card })
}

/// Authorizations, captures, voids and refunds move money: only the order service may ask
/// for one. A stranger is refused before anything is read or written; the balance and the
/// payment are untouched.
#[actix_web::test]
async fn only_the_order_service_may_move_money() {
    let (s, _db, _vhost) = start().await;
    let base = s.url("");
    let order = Uuid::new_v4();
    let body = authorize(order, "zoe", 1000, CARD_SUCCESS);
    assert_only_the_owner_may_call(&base, "/payments/authorize", Some(&body), Component::Order).await;
    let none = reqwest::get(s.url(&format!("/payments/{order}"))).await.unwrap();
    assert_eq!(none.status(), 404, "no payment was made");
    let (status, _) = post(s.url("/payments/authorize"), Some(body)).await;
    assert_eq!(status, 201, "the order service may");
    for action in ["capture", "void", "refund"] {
        let path = format!("/payments/{order}/{action}");
        assert_only_the_owner_may_call(&base, &path, None, Component::Order).await;
    }
    let payment: Value = reqwest::get(s.url(&format!("/payments/{order}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        payment["status"], "authorized",
        "neither captured, voided nor refunded"
    );
    let zoe = account(&s, "zoe").await;
    assert_eq!(
        (zoe["held_minor"].as_i64(), zoe["captured_minor"].as_i64()),
        (Some(1000), Some(0)),
        "held once, nothing captured or returned"
    );
    s.stop().await;
}

#[actix_web::test]
async fn money_moves_once_per_operation() {
    let (s, _db, _vhost) = start().await;
    let before = account(&s, "alice").await["balance_minor"].as_i64().unwrap();
    let order = Uuid::new_v4();
    let (status, p) = post(
        s.url("/payments/authorize"),
        Some(authorize(order, "alice", 1000, CARD_SUCCESS)),
    )
    .await;
    assert_eq!((status, p["status"].as_str()), (201, Some("authorized")));
    let (status, _) = post(
        s.url("/payments/authorize"),
        Some(authorize(order, "alice", 1000, CARD_SUCCESS)),
    )
    .await;
    assert_eq!(status, 200, "replayed, not re-authorized");
    let (status, err) = post(
        s.url("/payments/authorize"),
        Some(authorize(order, "alice", 2000, CARD_SUCCESS)),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (422, Some("payment_mismatch"))
    );
    assert_eq!(account(&s, "alice").await["held_minor"], 1000);

    for _ in 0..2 {
        let (status, p) = post(s.url(&format!("/payments/{order}/capture")), None).await;
        assert_eq!((status, p["status"].as_str()), (200, Some("captured")));
    }
    let a = account(&s, "alice").await;
    assert_eq!(
        (a["held_minor"].as_i64(), a["captured_minor"].as_i64()),
        (Some(0), Some(1000))
    );
    let (status, err) = post(s.url(&format!("/payments/{order}/void")), None).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("payment_state"))
    );
    for _ in 0..2 {
        let (status, p) = post(s.url(&format!("/payments/{order}/refund")), None).await;
        assert_eq!((status, p["status"].as_str()), (200, Some("refunded")));
    }
    assert_eq!(
        account(&s, "alice").await["balance_minor"].as_i64().unwrap(),
        before
    );
    s.stop().await;
}

#[actix_web::test]
async fn a_void_that_overtakes_a_slow_authorize_means_no_money_moves() {
    let (s, _db, _vhost) = start().await;
    let order = Uuid::new_v4();
    let slow = tokio::spawn(post(
        s.url("/payments/authorize"),
        Some(authorize(order, "bob", 500, CARD_TIMEOUT)),
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, concurrent) = post(
        s.url("/payments/authorize"),
        Some(authorize(order, "bob", 500, CARD_TIMEOUT)),
    )
    .await;
    assert_eq!(
        (status, concurrent["error"]["code"].as_str()),
        (409, Some("authorization_in_progress"))
    );
    let (status, v) = post(s.url(&format!("/payments/{order}/void")), None).await;
    assert_eq!((status, v["status"].as_str()), (200, Some("voided")));
    let (status, late) = slow.await.unwrap();
    assert_eq!(
        (status, late["error"]["code"].as_str()),
        (409, Some("payment_state"))
    );
    assert_eq!(account(&s, "bob").await["held_minor"], 0);

    // A void for an order never authorized fences off its late authorize.
    let fenced = Uuid::new_v4();
    let (status, _) = post(s.url(&format!("/payments/{fenced}/void")), None).await;
    assert_eq!(status, 200);
    let (status, _) = post(
        s.url("/payments/authorize"),
        Some(authorize(fenced, "bob", 500, CARD_SUCCESS)),
    )
    .await;
    assert_eq!(status, 409);
    s.stop().await;
}

#[actix_web::test]
async fn a_rate_limited_provider_charges_nothing_and_can_be_retried() {
    let (s, _db, _vhost) = start().await;
    let order = Uuid::new_v4();
    let (auth, credential) = as_service(Component::Order);
    let res = reqwest::Client::new()
        .post(s.url("/payments/authorize"))
        .header(auth, credential)
        .json(&authorize(order, "dave", 700, CARD_RATE_LIMITED))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "1");
    let missing = reqwest::get(s.url(&format!("/payments/{order}"))).await.unwrap();
    assert_eq!(missing.status(), 404, "no payment left behind");
    let cards: Value = reqwest::get(s.url("/test-cards"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cards.as_array().unwrap().len(), 6);
    s.stop().await;
}

/// Graceful shutdown: a request in flight when the stop comes still gets its answer.
#[actix_web::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let (s, _db, _vhost) = start().await;
    let order = Uuid::new_v4();
    let in_flight = tokio::spawn(post(
        s.url("/payments/authorize"),
        Some(authorize(order, "erin", 900, CARD_TIMEOUT)),
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.stop().await;
    let (status, p) = in_flight.await.unwrap();
    assert_eq!((status, p["status"].as_str()), (201, Some("authorized")));
}
