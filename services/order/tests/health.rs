use platform_config::Component;

#[actix_web::test]
async fn health_readiness_and_graceful_shutdown() {
    platform_testing::check_service_lifecycle(Component::Order, |service| async move {
        order_service::build(order_service::Settings::new(
            service,
            "http://127.0.0.1:9".into(),
            "http://127.0.0.1:9".into(),
        ))
        .await
    })
    .await;
}
