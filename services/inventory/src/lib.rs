//! The inventory service: the catalog, stock levels and reservations.
//!
//! Its one promise: stock is never oversold, whatever the concurrency. Every change to a
//! stock level is a single conditional `UPDATE` (see `stock.rs`), never read-then-write,
//! and no lock is ever held across a network call.

mod api;
mod batching;
mod error;
mod events;
mod expiry;
mod stock;

use std::time::Duration;

use platform_config::{ConfigError, ServiceSettings};
use platform_http::Application;
use platform_messaging::{Subscriber, Tuning};
use platform_service::{Infra, periodic};

pub use error::InventoryError;

/// Operations that fault switches can target (see `/admin/faults`).
pub const FAULT_OPERATIONS: &[&str] = &["reserve", "release", "commit", "return", "consume"];

#[derive(Debug, Clone)]
pub struct Settings {
    pub service: ServiceSettings,
    /// Retry and prefetch knobs of the order-events consumer.
    pub consumer: Tuning,
    /// A reservation never committed or released returns its stock after this long.
    pub reservation_ttl: Duration,
    /// How often expired reservations are swept.
    pub sweep_interval: Duration,
    /// The order service, which decides what happens to a reservation past its time.
    pub order_url: String,
}

impl Settings {
    /// The defaults.
    pub fn new(service: ServiceSettings) -> Self {
        Self {
            service,
            consumer: Tuning::default(),
            reservation_ttl: Duration::from_secs(15 * 60),
            sweep_interval: Duration::from_secs(5),
            order_url: platform_config::Component::Order.base_url(),
        }
    }

    /// The defaults, overridden by environment variables.
    pub fn from_env(service: ServiceSettings) -> Result<Self, ConfigError> {
        let d = Self::new(service);
        Ok(Self {
            consumer: Tuning::from_env()?,
            reservation_ttl: platform_config::secs("RESERVATION_TTL_SECS", d.reservation_ttl.as_secs())?,
            sweep_interval: platform_config::millis(
                "RESERVATION_SWEEP_MS",
                d.sweep_interval.as_millis() as u64,
            )?,
            ..d
        })
    }
}

/// Builds the service (connects, migrates, starts its actors, binds) without running it.
pub async fn build(settings: Settings) -> anyhow::Result<Application> {
    let infra = Infra::start::<migrations::inventory::Migrator>(settings.service.clone()).await?;
    // The sweeper returns the stock of reservations nobody committed or released in time
    // (the order service crashed, a compensation was lost); without it such stock would
    // stay "reserved" forever and the product would look sold out. It asks the order
    // service first: a confirmed order's reservation is never expired (see expiry.rs).
    let expiry = expiry::Expiry {
        db: infra.background_db.clone(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?,
        order_url: settings.order_url.clone(),
        ttl: settings.reservation_ttl,
    };
    let sweeper = periodic::start("reservation-sweeper", settings.sweep_interval, expiry);
    // The secondary path: order outcomes arrive as events (see events.rs).
    let subscriber = Subscriber::start(
        &infra,
        "inventory",
        events::BINDINGS,
        &settings.consumer,
        events::OrderEvents,
    );
    let state = api::State {
        db: infra.db.clone(),
        reservations: batching::Reservations::new(infra.db.clone(), settings.reservation_ttl),
        faults: subscriber.faults.clone(),
    };
    let app = subscriber.serve(&infra, FAULT_OPERATIONS, move |cfg| {
        api::routes(cfg, state.clone())
    })?;
    Ok(app.on_shutdown(periodic::stop_hook(sweeper)))
}
