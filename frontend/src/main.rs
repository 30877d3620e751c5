#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    platform_telemetry::init("storefront");
    let settings = storefront::Settings::from_env()?;
    storefront::build(settings)?.run_until_stopped().await?;
    Ok(())
}
