//! The storefront: the browser demo of the platform, rendered on the server with askama.
//!
//! It owns no data. Everything it shows comes from the services' HTTP APIs, and each
//! browser action gets a correlation id here (minted by the shared middleware), forwarded
//! on every call it makes, so the journey of a click can be followed through every service.
//!
//! - `backend.rs`: calls to the services, with the correlation id and, for operator
//!   actions, the admin token the operator entered.
//! - `session.rs`: the cookie session: cart, customer name, CSRF token, admin token.
//! - `shop.rs`: storefront, cart, checkout, order page with its live journey, my orders.
//! - `mailbox.rs`: the emails the email service sent.
//! - `analytics.rs`: the projection's figures and their freshness.
//! - `control_room.rs`: the ops control room, with the operator's sign-in and actions.
//! - `scenarios.rs`: the scenarios page and its one-click demonstrations.
//! - `topology.rs`: the ops page's topology: PostgreSQL primary, RabbitMQ nodes, instances.

mod analytics;
mod backend;
pub mod charts;
mod control_room;
mod journey_picture;
mod mailbox;
mod scenarios;
mod security;
mod session;
mod shop;
mod sign_in;
pub mod topology;
mod views;

use platform_config::{Component, ConfigError, ServerSettings};
use platform_http::Application;

#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerSettings,
    /// Base URLs of the backend services, in `Component::SERVICES` order.
    pub services: Vec<(Component, String)>,
    /// Prometheus, for the live charts of the ops and analytics pages (`PROMETHEUS_URL`;
    /// default: the one `./dev` runs).
    pub prometheus_url: String,
    /// Where the ops page's topology comes from (`HAPROXY_STATS_URL`, `PATRONI_URLS`,
    /// `RABBITMQ_MANAGEMENT_URL`, the vhost of `AMQP_URL`); the default reads none of them.
    pub topology: topology::Config,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            server: ServerSettings::from_env(Component::Frontend)?,
            services: Component::SERVICES.iter().map(|c| (*c, c.base_url())).collect(),
            prometheus_url: platform_config::string("PROMETHEUS_URL", "http://127.0.0.1:25690"),
            topology: topology::Config::from_env()?,
        })
    }
}

/// Builds the storefront server without running it.
pub fn build(settings: Settings) -> anyhow::Result<Application> {
    let backend = backend::Backend::new(settings.services.clone());
    let charts = charts::Source::new(settings.prometheus_url.clone());
    let topology = topology::Source::new(settings.topology.clone());
    // The storefront is ready when it can serve pages; the backends' readiness is shown
    // on the status page rather than folded into its own, so one slow backend does not take
    // the whole demo out of rotation.
    let app = platform_http::serve(&settings.server, vec![], move |cfg| {
        let backend = backend.clone();
        let charts = charts.clone();
        let topology = topology.clone();
        // Every page, script and answer of the storefront carries its security headers.
        cfg.service(
            actix_web::web::scope("")
                .wrap(security::headers())
                .app_data(actix_web::web::Data::new(charts.clone()))
                .app_data(actix_web::web::Data::new(topology.clone()))
                .configure(move |cfg| {
                    shop::routes(cfg, backend.clone());
                    mailbox::routes(cfg);
                    analytics::routes(cfg);
                    control_room::routes(cfg);
                    scenarios::routes(cfg);
                    security::routes(cfg);
                    sign_in::routes(cfg);
                    // Last: any other path is a friendly HTML 404 (not the services' JSON one).
                    cfg.route("/{tail:.*}", actix_web::web::to(views::not_found));
                }),
        );
    })?;
    Ok(app)
}
