use platform_config::{Component, ServiceSettings};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    platform_telemetry::init("order-service");
    let settings = order_service::Settings::from_env(ServiceSettings::from_env(Component::Order)?)?;
    order_service::build(settings).await?.run_until_stopped().await?;
    Ok(())
}
