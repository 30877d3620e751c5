//! The analytics service: an eventually consistent read model of order outcomes (orders and
//! revenue per minute, per product, rejection reasons), built from events.
//!
//! Projections go stale silently: a consumer stops, nobody notices for 40 minutes, and the
//! dashboard keeps showing yesterday's numbers in good faith. So this service measures its
//! own lag (now − `occurred_at` of the newest event applied) and consumes a heartbeat the
//! order service publishes every few seconds through the same path as real events: when the
//! heartbeat is older than `ANALYTICS_STALE_AFTER_SECS`, the projection says it is stale.
//! Nothing here is ever used for a money decision.

mod api;
pub mod backpressure;
mod projection;

use std::time::Duration;

use platform_config::{ConfigError, ServiceSettings, millis, parse, secs};
use platform_http::Application;
use platform_messaging::{Subscriber, Tuning};
use platform_service::{Infra, periodic};

/// Operations that fault switches can target (see `/admin/faults`).
pub const FAULT_OPERATIONS: &[&str] = &["consume"];

#[derive(Debug, Clone)]
pub struct Settings {
    pub service: ServiceSettings,
    /// Retry and prefetch knobs of the order-events consumer.
    pub consumer: Tuning,
    /// No heartbeat for this long: the projection is stale.
    pub stale_after: Duration,
    /// When to shed analytics work (see `backpressure.rs`).
    pub backpressure: backpressure::Policy,
    pub backpressure_interval: Duration,
}

impl Settings {
    pub fn new(service: ServiceSettings) -> Self {
        Self {
            service,
            consumer: Tuning::default(),
            stale_after: Duration::from_secs(30),
            backpressure: backpressure::Policy::default(),
            backpressure_interval: Duration::from_secs(2),
        }
    }

    pub fn from_env(service: ServiceSettings) -> Result<Self, ConfigError> {
        let d = Self::new(service);
        Ok(Self {
            consumer: Tuning::from_env()?,
            stale_after: secs("ANALYTICS_STALE_AFTER_SECS", d.stale_after.as_secs())?,
            backpressure: backpressure::Policy {
                max_depth: parse("BACKPRESSURE_MAX_DEPTH", d.backpressure.max_depth)?,
                max_age: secs("BACKPRESSURE_MAX_AGE_SECS", d.backpressure.max_age.as_secs())?,
                ..d.backpressure.clone()
            },
            backpressure_interval: millis(
                "BACKPRESSURE_INTERVAL_MS",
                d.backpressure_interval.as_millis() as u64,
            )?,
            ..d
        })
    }
}

/// Builds the service (connects, migrates, starts its consumer, binds) without running it.
pub async fn build(settings: Settings) -> anyhow::Result<Application> {
    let infra = Infra::start::<migrations::analytics::Migrator>(settings.service.clone()).await?;
    let subscriber = Subscriber::start(
        &infra,
        "analytics",
        projection::BINDINGS,
        &settings.consumer,
        projection::Projection,
    );
    let monitor = platform_messaging::monitor::QueueMonitor::new(
        &settings.service.rabbitmq_management_url,
        &settings.service.amqp_url,
    );
    let shedder = backpressure::Shedder::new(
        monitor,
        subscriber.subscription.handle.clone(),
        settings.backpressure.clone(),
    );
    let shedder_worker = periodic::start("backpressure", settings.backpressure_interval, shedder.clone());
    let shedder_routes = shedder.routes();
    let state = api::State {
        stale_after: settings.stale_after,
    };
    let app = subscriber.serve(&infra, FAULT_OPERATIONS, move |cfg| {
        api::routes(cfg, state.clone());
        shedder_routes(cfg);
    })?;
    Ok(app.on_shutdown(periodic::stop_hook(shedder_worker)))
}
