use platform_config::{Component, ServiceSettings};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    platform_telemetry::init("analytics-service");
    let settings = analytics_service::Settings::from_env(ServiceSettings::from_env(Component::Analytics)?)?;
    analytics_service::build(settings)
        .await?
        .run_until_stopped()
        .await?;
    Ok(())
}
