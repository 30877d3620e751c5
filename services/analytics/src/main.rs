use platform_config::Component;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    platform_service::main(
        Component::Analytics,
        analytics_service::Settings::from_env,
        analytics_service::build,
    )
    .await
}
