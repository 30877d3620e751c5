use platform_config::Component;

#[actix_web::test]
async fn health_readiness_and_graceful_shutdown() {
    platform_testing::check_service_lifecycle(Component::Analytics, |service| async move {
        analytics_service::build(analytics_service::Settings::new(service)).await
    })
    .await;
}
