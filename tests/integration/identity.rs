//! Shopper identity (services/order/src/identity.rs): a customer registers and signs in,
//! and gets a token every service accepts as proof of who they are; passwords are kept
//! only as Argon2id hashes; a wrong password and an unknown customer get the same answer.

use platform_http::CustomerKeys;
use platform_testing::TEST_CUSTOMER_TOKEN_SECRET;
use serde_json::{Value, json};

use crate::support::*;

#[actix_web::test]
async fn a_customer_registers_signs_in_and_gets_a_token_that_proves_who_they_are() {
    let c = Checkout::start().await;
    let post = |path: &'static str, body: Value| {
        let (http, url) = (c.http.clone(), c.order.url(path));
        async move {
            let res = http.post(url).json(&body).send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let ada = json!({ "customer_id": "ada-l", "password": "correct horse" });

    let (status, registered) = post("/customers", ada.clone()).await;
    assert_eq!(status, 201, "{registered:#}");
    let keys = CustomerKeys::new(TEST_CUSTOMER_TOKEN_SECRET);
    assert_eq!(
        keys.verify(registered["token"].as_str().unwrap()).unwrap(),
        "ada-l"
    );

    let (status, again) = post("/customers", ada.clone()).await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("customer_exists"))
    );
    for bad in [
        json!({ "customer_id": "bob", "password": "short" }),
        json!({ "customer_id": "no spaces", "password": "long enough" }),
    ] {
        let (status, body) = post("/customers", bad).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_request")),
            "{body:#}"
        );
    }

    let (status, signed_in) = post("/sessions", ada).await;
    assert_eq!(status, 200, "{signed_in:#}");
    assert_eq!(
        keys.verify(signed_in["token"].as_str().unwrap()).unwrap(),
        "ada-l"
    );

    // A wrong password and an unknown customer: the same answer.
    let (wrong_status, wrong) = post(
        "/sessions",
        json!({ "customer_id": "ada-l", "password": "incorrect horse" }),
    )
    .await;
    let (unknown_status, unknown) = post(
        "/sessions",
        json!({ "customer_id": "nobody", "password": "correct horse" }),
    )
    .await;
    assert_eq!((wrong_status, unknown_status), (401, 401));
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["error"]["code"], "invalid_credentials");

    // The demo customers are seeded, with the documented password.
    let (status, demo) = post(
        "/sessions",
        json!({ "customer_id": "grace", "password": "demo-shopper" }),
    )
    .await;
    assert_eq!(
        (status, demo["customer_id"].as_str()),
        (200, Some("grace")),
        "{demo:#}"
    );

    // Only a salted Argon2id hash is stored.
    let stored = Checkout::count(
        &c.order_db,
        "SELECT count(*) FROM customers WHERE id = 'ada-l' AND password_hash LIKE '$argon2id$%' AND password_hash NOT LIKE '%correct horse%'",
    )
    .await;
    assert_eq!(stored, 1);
    c.stop().await;
}
