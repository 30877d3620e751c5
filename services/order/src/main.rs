use platform_config::Component;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    platform_service::main(
        Component::Order,
        order_service::Settings::from_env,
        order_service::build,
    )
    .await
}
