//! The payment service.

use platform_config::{ConfigError, ServiceSettings};
use platform_http::Application;
use platform_service::Infra;

#[derive(Debug, Clone)]
pub struct Settings {
    pub service: ServiceSettings,
}

impl Settings {
    pub fn from_env(service: ServiceSettings) -> Result<Self, ConfigError> {
        Ok(Self { service })
    }
}

/// Builds the service (connects, migrates, binds) without running it.
pub async fn build(settings: Settings) -> anyhow::Result<Application> {
    let infra = Infra::start::<migrations::payment::Migrator>(settings.service).await?;
    Ok(infra.serve(vec![], |_| {})?)
}
