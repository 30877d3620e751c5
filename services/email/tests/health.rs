use platform_config::Component;

#[actix_web::test]
async fn health_readiness_and_graceful_shutdown() {
    platform_testing::check_service_lifecycle(Component::Email, |service| async move {
        email_service::build(email_service::Settings::new(
            service,
            std::env::temp_dir().join("platform-test-mail"),
        ))
        .await
    })
    .await;
}
