//! Template and form safety, against a real inventory service.
use std::time::Duration;

use platform_config::Component;
use platform_testing::{RunningService, TestDatabase, TestVhost, server_settings, service_settings, spawn};
use sea_orm::{ConnectionTrait, Database};

async fn storefront_with_inventory() -> (RunningService, RunningService, TestDatabase, TestVhost) {
    let db = TestDatabase::create("inventory").await;
    let vhost = TestVhost::create("inventory").await;
    let inventory = spawn(
        inventory_service::build(inventory_service::Settings::new(service_settings(
            Component::Inventory,
            &db,
            &vhost,
        )))
        .await
        .unwrap(),
    );
    inventory.wait_ready(Duration::from_secs(15)).await;
    let services = Component::SERVICES
        .iter()
        .map(|c| match c {
            Component::Inventory => (*c, inventory.address.clone()),
            _ => (*c, "http://127.0.0.1:9".to_string()),
        })
        .collect();
    let storefront = spawn(
        storefront::build(storefront::Settings {
            server: server_settings(Component::Frontend),
            services,
            // Nothing listens there: the charts say Prometheus does not answer.
            prometheus_url: "http://127.0.0.1:9".into(),
            // No HAProxy, Patroni or management API: the single-node wording, nothing read.
            topology: storefront::topology::Config::default(),
        })
        .unwrap(),
    );
    (storefront, inventory, db, vhost)
}

#[actix_web::test]
async fn names_containing_markup_are_rendered_escaped() {
    let (storefront, inventory, db, _vhost) = storefront_with_inventory().await;
    let conn = Database::connect(&db.url).await.unwrap();
    conn.execute_unprepared(
        "INSERT INTO products (sku, name, description, price_minor, initial_stock, available) \
         VALUES ('evil', '<script>alert(\"name\")</script>', '<img src=x onerror=alert(1)>', 100, 5, 5)",
    )
    .await
    .unwrap();
    let _ = conn.close().await;

    let shop = reqwest::get(storefront.url("/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !shop.contains("<script>alert(\"name\")"),
        "product name is not interpreted"
    );
    assert!(
        shop.contains("&#60;script&#62;") || shop.contains("&lt;script&gt;"),
        "product name is shown as text"
    );
    assert!(!shop.contains("<img src=x"), "description is not interpreted");

    // A customer name from the session cookie (signed in), shown back on the cart page.
    let client = reqwest::Client::new();
    let cart = client
        .get(storefront.url("/cart"))
        .header(
            "cookie",
            "customer=<script>alert(2)</script>; customer_token=t; cart=evil:1",
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !cart.contains("<script>alert(2)"),
        "customer name is not interpreted"
    );
    assert!(cart.contains("alert(2)"), "but it is shown");

    // Unknown pages are friendly HTML, not a stack trace.
    let missing = reqwest::get(storefront.url("/no/such/page")).await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("There is no page at this address")
    );
    storefront.stop().await;
    inventory.stop().await;
}

#[actix_web::test]
async fn a_post_without_a_valid_csrf_token_is_refused_with_403() {
    let (storefront, inventory, _db, _vhost) = storefront_with_inventory().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (path, form) in [
        ("/cart/add", vec![("sku", "mug"), ("quantity", "1")]),
        (
            "/checkout",
            vec![
                ("customer", "alice"),
                ("card", "4242424242424242"),
                ("idempotency_key", "k1"),
            ],
        ),
        ("/ops/login", vec![("token", "guess")]),
        // A forged sign-in would sign the victim's browser in as the attacker.
        (
            "/signin",
            vec![
                ("customer_id", "mallory"),
                ("password", "mallory's password"),
                ("action", "sign_in"),
            ],
        ),
        ("/signin/demo", vec![]),
        ("/signout", vec![]),
    ] {
        // No token at all.
        let res = client
            .post(storefront.url(path))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path} without a token");
        // A token in the form that does not match the cookie (a forged cross-site form).
        let mut forged = form.clone();
        forged.push(("csrf", "00000000000000000000000000000000"));
        let res = client
            .post(storefront.url(path))
            .header("cookie", "csrf=11111111111111111111111111111111")
            .form(&forged)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path} with a forged token");
        assert!(res.text().await.unwrap().contains("security token"));
    }
    // With the token the page handed out, the same form works.
    let page = client.get(storefront.url("/")).send().await.unwrap();
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let token = cookie.trim_start_matches("csrf=").to_string();
    let res = client
        .post(storefront.url("/cart/add"))
        .header("cookie", cookie)
        .form(&[("csrf", token.as_str()), ("sku", "mug"), ("quantity", "2")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("cart=mug:2")
    );
    storefront.stop().await;
    inventory.stop().await;
}

/// The status page asks every service for its readiness: a running service shows as ready,
/// one that is not running shows as not ready with the reason.
#[actix_web::test]
async fn status_page_shows_each_services_readiness() {
    let (storefront, inventory, _db, _vhost) = storefront_with_inventory().await;
    let page = reqwest::get(storefront.url("/status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let row = |name: &str| {
        let start = page.find(&format!("data-service=\"{name}\"")).unwrap();
        page[start..start + page[start..].find("</tr>").unwrap()].to_string()
    };
    assert!(row("inventory").contains("class=\"ok\""), "{}", row("inventory"));
    assert!(row("payment").contains("not ready"), "{}", row("payment"));
    assert!(row("payment").contains("unreachable"), "{}", row("payment"));
    storefront.stop().await;
    inventory.stop().await;
}

/// The ops page's restock button carries an Idempotency-Key made when the page was shown,
/// which the storefront forwards: pressing it twice (or a retried request) restocks once.
#[actix_web::test]
async fn the_ops_restock_button_restocks_once_per_page_view() {
    let (storefront, inventory, _db, _vhost) = storefront_with_inventory().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let available = || async {
        reqwest::get(inventory.url("/products/hot-sneaker"))
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()["available"]
            .as_i64()
            .unwrap()
    };
    let before = available().await;
    let cookies = format!(
        "csrf=22222222222222222222222222222222; admin_token={}",
        platform_testing::TEST_ADMIN_TOKEN
    );
    // The key the ops page put in the form when it was shown (the page itself needs the
    // order service to show its switches, which this test does not run).
    let key = uuid::Uuid::new_v4().to_string();
    let key = key.as_str();
    for _ in 0..2 {
        let res = client
            .post(storefront.url("/ops/action"))
            .header("cookie", &cookies)
            .form(&[
                ("csrf", "22222222222222222222222222222222"),
                ("action", "restock_hot"),
                ("service", "inventory"),
                ("target", key),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    }
    assert_eq!(available().await - before, 10, "two presses, one restock");
    storefront.stop().await;
    inventory.stop().await;
}
