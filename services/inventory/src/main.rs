use platform_config::Component;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    platform_service::main(
        Component::Inventory,
        inventory_service::Settings::from_env,
        inventory_service::build,
    )
    .await
}
