//! The storefront: the browser demo of the platform, rendered on the server with askama.
//!
//! It owns no data. Everything it shows comes from the services' HTTP APIs, and every
//! browser action gets a correlation id here, forwarded on each call, so the journey of a
//! click can be followed through every service.

mod pages;

use platform_config::{Component, ConfigError, ServerSettings};
use platform_http::Application;

#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerSettings,
    /// Base URLs of the backend services, in `Component::SERVICES` order.
    pub services: Vec<(Component, String)>,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            server: ServerSettings::from_env(Component::Frontend)?,
            services: Component::SERVICES.iter().map(|c| (*c, c.base_url())).collect(),
        })
    }
}

/// Builds the storefront server without running it.
pub fn build(settings: Settings) -> anyhow::Result<Application> {
    let state = pages::State::new(settings.services.clone());
    // The storefront is ready when it can serve pages; the backends' readiness is shown
    // on its home page rather than folded into its own, so one slow backend does not take
    // the whole demo out of rotation.
    let app = platform_http::serve(&settings.server, vec![], move |cfg| {
        pages::routes(cfg, state.clone())
    })?;
    Ok(app)
}
