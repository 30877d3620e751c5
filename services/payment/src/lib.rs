//! The payment service: customer accounts, and authorize / capture / void / refund against
//! a simulated card provider.
//!
//! Its one promise: never a double charge. Every operation is idempotent per order id, and
//! an authorization claims the order id *before* calling the provider, so a retry that
//! arrives while the first call is still in flight never reaches the provider twice.

mod api;
mod error;
mod events;
mod ledger;
pub mod provider;

use std::time::Duration;

use platform_config::{ConfigError, ServiceSettings};
use platform_http::Application;
use platform_messaging::{Subscriber, Tuning};
use platform_service::Infra;

pub use error::PaymentError;

/// Operations that fault switches can target (see `/admin/faults`).
pub const FAULT_OPERATIONS: &[&str] = &["authorize", "capture", "void", "refund", "consume"];

#[derive(Debug, Clone)]
pub struct Settings {
    pub service: ServiceSettings,
    /// Retry and prefetch knobs of the order-events consumer.
    pub consumer: Tuning,
    /// How long the simulated provider takes to answer for the "timeout" test card:
    /// longer than the order service waits, so the caller sees an unknown outcome.
    pub provider_slow: Duration,
    /// Balance of an account opened on first use (demo and load-test customers).
    pub opening_balance_minor: i64,
}

impl Settings {
    /// The defaults.
    pub fn new(service: ServiceSettings) -> Self {
        Self {
            service,
            consumer: Tuning::default(),
            provider_slow: Duration::from_millis(3_000),
            opening_balance_minor: 100_000_000,
        }
    }

    /// The defaults, overridden by environment variables.
    pub fn from_env(service: ServiceSettings) -> Result<Self, ConfigError> {
        let d = Self::new(service);
        Ok(Self {
            consumer: Tuning::from_env()?,
            provider_slow: platform_config::millis("PROVIDER_SLOW_MS", d.provider_slow.as_millis() as u64)?,
            opening_balance_minor: platform_config::parse("OPENING_BALANCE_MINOR", d.opening_balance_minor)?,
            ..d
        })
    }
}

/// Builds the service (connects, migrates, binds) without running it.
pub async fn build(settings: Settings) -> anyhow::Result<Application> {
    let infra = Infra::start::<migrations::payment::Migrator>(settings.service.clone()).await?;
    // The secondary path: order outcomes arrive as events (see events.rs).
    let subscriber = Subscriber::start(
        &infra,
        "payment",
        events::BINDINGS,
        &settings.consumer,
        events::OrderEvents,
    );
    let state = api::State {
        db: infra.db.clone(),
        provider: provider::Provider::new(settings.provider_slow),
        opening_balance_minor: settings.opening_balance_minor,
        faults: subscriber.faults.clone(),
    };
    Ok(subscriber.serve(&infra, FAULT_OPERATIONS, move |cfg| {
        api::routes(cfg, state.clone())
    })?)
}
