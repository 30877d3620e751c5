use platform_config::Component;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    platform_service::main(
        Component::Payment,
        payment_service::Settings::from_env,
        payment_service::build,
    )
    .await
}
