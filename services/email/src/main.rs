use platform_config::Component;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    platform_service::main(
        Component::Email,
        email_service::Settings::from_env,
        email_service::build,
    )
    .await
}
