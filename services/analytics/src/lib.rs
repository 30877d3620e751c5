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
mod projection;

use std::{sync::Arc, time::Duration};

use platform_config::{ConfigError, ServiceSettings, secs};
use platform_http::{Application, Faults};
use platform_messaging::{ConsumerSpec, Tuning, consumer, dead_letters};
use platform_service::Infra;

/// Operations that fault switches can target (see `/admin/faults`).
pub const FAULT_OPERATIONS: &[&str] = &["consume"];

#[derive(Debug, Clone)]
pub struct Settings {
    pub service: ServiceSettings,
    /// Retry and prefetch knobs of the order-events consumer.
    pub consumer: Tuning,
    /// No heartbeat for this long: the projection is stale.
    pub stale_after: Duration,
}

impl Settings {
    pub fn new(service: ServiceSettings) -> Self {
        Self {
            service,
            consumer: Tuning::default(),
            stale_after: Duration::from_secs(30),
        }
    }

    pub fn from_env(service: ServiceSettings) -> Result<Self, ConfigError> {
        let d = Self::new(service);
        Ok(Self {
            consumer: Tuning::from_env()?,
            stale_after: secs("ANALYTICS_STALE_AFTER_SECS", d.stale_after.as_secs())?,
            ..d
        })
    }
}

/// Builds the service (connects, migrates, starts its consumer, binds) without running it.
pub async fn build(settings: Settings) -> anyhow::Result<Application> {
    let infra = Infra::start::<migrations::analytics::Migrator>(settings.service.clone()).await?;
    let faults = Faults::default();
    let consumer = consumer::start(
        ConsumerSpec::new(
            "analytics",
            "order-events",
            projection::BINDINGS.to_vec(),
            &settings.consumer,
        ),
        infra.db.clone(),
        infra.broker.clone(),
        Arc::new(projection::Projection),
        faults.clone(),
    );
    let dead_letter_routes = dead_letters::routes(infra.broker.clone(), vec![consumer.spec.queue.clone()]);
    let fault_routes = faults.routes(FAULT_OPERATIONS);
    let state = api::State {
        db: infra.db.clone(),
        stale_after: settings.stale_after,
    };
    let app = infra.serve(vec![], move |cfg| {
        api::routes(cfg, state.clone());
        fault_routes(cfg);
        dead_letter_routes(cfg);
    })?;
    Ok(app.on_shutdown(consumer.stop_hook()))
}
