//! The order service's `main`, built inside this package: a test here can start it as a
//! process of its own (`CARGO_BIN_EXE_order-under-test`) and kill it at a crash point, which
//! only a binary of the same package can be named for. It is the same `main` as
//! services/order/src/main.rs: one call to `platform_service::main`.
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
