use std::{future::Future, time::Duration};

use platform_config::{Component, ServiceSettings};
use platform_http::Application;
use reqwest::StatusCode;

use crate::{TestDatabase, TestVhost, service_settings, spawn};

/// The contract every service honours, checked against the real PostgreSQL and RabbitMQ:
/// it becomes ready, says why when its database is unreachable (503 + JSON reason),
/// recovers, echoes correlation ids, answers unknown routes with a JSON 404, and on a
/// graceful stop closes its broker connection.
pub async fn check_service_lifecycle<F, Fut>(component: Component, build: F)
where
    F: FnOnce(ServiceSettings) -> Fut,
    Fut: Future<Output = anyhow::Result<Application>>,
{
    let db = TestDatabase::create(component.name()).await;
    let vhost = TestVhost::create(component.name()).await;
    let service = spawn(
        build(service_settings(component, &db, &vhost))
            .await
            .expect("service builds"),
    );
    service.wait_ready(Duration::from_secs(15)).await;
    let http = reqwest::Client::new();

    let live = http.get(service.url("/health/live")).send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    let generated = live
        .headers()
        .get("x-correlation-id")
        .expect("a correlation id is minted");
    assert!(!generated.is_empty());

    let echoed = http
        .get(service.url("/health/live"))
        .header("x-correlation-id", "test-corr-42")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-correlation-id"], "test-corr-42");

    let missing = http.get(service.url("/no/such/route")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "no_route");

    db.cut_off().await;
    let down = http.get(service.url("/health/ready")).send().await.unwrap();
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = down.json().await.unwrap();
    assert!(
        body["reason"].as_str().unwrap().contains("database"),
        "reason names the database: {body}"
    );
    assert_eq!(body["checks"]["broker"], "ok");

    db.restore().await;
    service.wait_ready(Duration::from_secs(15)).await;

    // The management API refreshes its connection list every few seconds, hence the waits.
    vhost.wait_for_connections(1, Duration::from_secs(20)).await;
    let address = service.address.clone();
    service.stop().await;
    assert!(
        http.get(format!("{address}/health/live")).send().await.is_err(),
        "stopped taking requests"
    );
    vhost.wait_for_connections(0, Duration::from_secs(20)).await;
}
