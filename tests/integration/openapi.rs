//! Each checkout service publishes an OpenAPI document describing its HTTP API.

use crate::support::*;

#[actix_web::test]
async fn each_service_serves_its_openapi_document() {
    let c = Checkout::start().await;
    for (service, path) in [
        (&c.order, "/orders"),
        (&c.order, "/admin/compensations/{id}/retry"),
        (&c.inventory, "/reservations"),
        (&c.inventory, "/reservations/{order_id}/release"),
        (&c.payment, "/payments/authorize"),
        (&c.payment, "/payments/{order_id}/void"),
    ] {
        let doc: serde_json::Value = c
            .http
            .get(service.url("/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with('3'), "{doc}");
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
    c.stop().await;
}
