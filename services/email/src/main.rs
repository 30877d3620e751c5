use platform_config::{Component, ServiceSettings};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    platform_telemetry::init("email-service");
    // Off unless CRASH_POINTS is set (the chaos tests): see shared/runtime/src/crash.rs.
    platform_runtime::crash::init_from_env().map_err(anyhow::Error::msg)?;
    let settings = email_service::Settings::from_env(ServiceSettings::from_env(Component::Email)?)?;
    email_service::build(settings).await?.run_until_stopped().await?;
    Ok(())
}
