use platform_config::Component;
use platform_testing::{TestDatabase, TestVhost, server_settings, service_settings, spawn};

/// The home page asks every service for its readiness: a running service shows as ready,
/// one that is not running shows as not ready with the reason.
#[actix_web::test]
async fn home_page_shows_each_services_readiness() {
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
    inventory.wait_ready(std::time::Duration::from_secs(15)).await;

    // Every other service points at a port nobody listens on.
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
        })
        .unwrap(),
    );

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
