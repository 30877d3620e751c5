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

/// Each Argon2id hash holds 19 MiB and tens of milliseconds of a core: hundreds at once
/// (a load run's shoppers signing up together) took 12 GB and starved the checkouts. At
/// most `PASSWORD_HASHING_SLOTS` run at once; a request that cannot get a slot within 2 s
/// is told to come back (503 `sign_in_busy`, Retry-After), and nothing is half-created.
#[actix_web::test]
async fn a_burst_of_sign_ups_is_hashed_a_few_at_a_time_and_the_rest_told_to_come_back() {
    const BURST: usize = 200;
    let c = Checkout::start_with(Knobs {
        password_hashing_slots: 1,
        ..Knobs::default()
    })
    .await;
    let sign_up = |i: usize| {
        let (http, url) = (c.http.clone(), c.order.url("/customers"));
        async move {
            let body = json!({ "customer_id": format!("burst-{i}"), "password": "correct horse" });
            let res = http.post(url).json(&body).send().await.unwrap();
            let status = res.status().as_u16();
            let retry_after = res
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            (i, status, retry_after, res.json::<Value>().await.unwrap())
        }
    };
    let answers = futures_util::future::join_all((0..BURST).map(sign_up)).await;

    let mut turned_away = Vec::new();
    for (i, status, retry_after, body) in &answers {
        match status {
            201 => {}
            503 => {
                assert_eq!(body["error"]["code"], "sign_in_busy", "{body:#}");
                assert_eq!(retry_after.as_deref(), Some("1"));
                turned_away.push(*i);
            }
            other => panic!("sign-up {i}: {other} {body:#}"),
        }
    }
    assert!(
        !turned_away.is_empty(),
        "all {BURST} sign-ups waited for one hashing slot: the wait is unbounded"
    );
    let created = BURST - turned_away.len();
    let stored = Checkout::count(
        &c.order_db,
        "SELECT count(*) FROM customers WHERE id LIKE 'burst-%'",
    )
    .await;
    assert_eq!(
        stored as usize, created,
        "a customer stored without an answer, or the reverse"
    );

    // Told to come back, they can: the slots were not leaked by the requests turned away.
    for i in turned_away.iter().take(3) {
        let (_, status, _, body) = sign_up(*i).await;
        assert_eq!(status, 201, "{body:#}");
    }
    c.stop().await;
}
