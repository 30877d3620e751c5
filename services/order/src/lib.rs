//! The order service: takes checkouts and owns their outcome.
//!
//! - `api.rs`: the HTTP endpoints (HTTP only).
//! - `checkout.rs`: `POST /orders`, read as the lesson: validate, shed, claim the key and
//!   create the order in one transaction, run the saga, store the answer.
//! - `saga.rs`: the checkout's critical path (reserve, authorize, confirm) and what happens
//!   when a step fails or its outcome is unknown.
//! - `orders.rs`: the order record, its lines and timeline; conditional transitions.
//! - `reconciler.rs`: drives every non-terminal order to a terminal state.
//! - `compensation.rs`: durable, rate-limited, retried undo of reservations and holds.
//! - `idempotency.rs`: idempotency keys.
//! - `clients.rs`: timeouts, retries and circuit breakers for calls to inventory and payment.
//! - `alerts.rs`: queue health, the outbox backlog and the alert rules.
//! - `integrity.rs`: every confirmed order's effects, checked with the services.
//! - `journey.rs`: one order's path across all services.

pub mod alerts;
mod api;
mod cancel;
mod catalog;
mod checkout;
mod clients;
pub mod compensation;
mod database_outage;
mod demo;
mod error;
mod heartbeat;
mod idempotency;
mod identity;
pub mod integrity;
mod journey;
mod orders;
mod reconciler;
mod saga;

use std::time::Duration;

use platform_config::{Component, ConfigError, ServiceSettings, millis, parse, secs};
use platform_contracts::ops::Thresholds;
use platform_http::Application;
use platform_service::{Infra, periodic};

pub use error::OrderError;

#[derive(Debug, Clone)]
pub struct Settings {
    pub service: ServiceSettings,
    pub inventory_url: String,
    pub payment_url: String,
    /// Read by the journey and the alerts (never on the critical path).
    pub email_url: String,
    pub analytics_url: String,
    /// Per-call timeouts: shorter than the shopper's patience, longer than a healthy call.
    pub inventory_timeout: Duration,
    pub payment_timeout: Duration,
    /// The window over which each dependency's circuit breaker measures its success rate.
    pub breaker_window: Duration,
    /// No order stays non-terminal longer than this.
    pub order_deadline: Duration,
    /// How long the checkout request itself owns a new order before the reconciler may
    /// step in; also when an unfinished idempotency key counts as abandoned.
    pub checkout_grace: Duration,
    pub idempotency_retention: Duration,
    pub reconciler_interval: Duration,
    pub retry_min: Duration,
    pub retry_max: Duration,
    pub compensation: compensation::Policy,
    pub compensation_interval: Duration,
    /// Outbox relay: rows per publish batch, poll interval (NOTIFY wakes it sooner), how
    /// long published rows are kept.
    pub outbox_batch: i64,
    pub outbox_poll: Duration,
    pub outbox_retention: Duration,
    /// How often the heartbeat event is published (analytics alerts when it stops).
    pub heartbeat_interval: Duration,
    /// How often queues and the outbox are sampled and alerts evaluated.
    pub ops_interval: Duration,
    /// The live integrity check (integrity.rs): how often, how long after its confirmation
    /// an order must have every effect, and how far back it looks.
    pub integrity_interval: Duration,
    pub integrity_settle: Duration,
    pub integrity_window: Duration,
    pub alert_thresholds: Thresholds,
    /// Checkouts in progress at once; beyond it, 503 + Retry-After instead of an unbounded
    /// queue of waiting requests.
    pub checkout_max_in_flight: usize,
    /// Password hashes computed at once (identity.rs's `HashingSlots`); defaults to the
    /// number of cores.
    pub password_hashing_slots: usize,
}

impl Settings {
    /// The defaults, with the addresses of the two critical-path dependencies.
    pub fn new(service: ServiceSettings, inventory_url: String, payment_url: String) -> Self {
        Self {
            service,
            inventory_url,
            payment_url,
            email_url: Component::Email.base_url(),
            analytics_url: Component::Analytics.base_url(),
            inventory_timeout: Duration::from_millis(1_000),
            payment_timeout: Duration::from_millis(2_000),
            breaker_window: Duration::from_secs(10),
            order_deadline: Duration::from_secs(30),
            checkout_grace: Duration::from_millis(5_000),
            idempotency_retention: Duration::from_secs(24 * 3600),
            reconciler_interval: Duration::from_millis(500),
            retry_min: Duration::from_millis(200),
            retry_max: Duration::from_millis(5_000),
            compensation: compensation::Policy {
                rate_per_sec: 20,
                max_concurrency: 10,
                max_attempts: 8,
                base_delay: Duration::from_millis(500),
                max_delay: Duration::from_millis(60_000),
            },
            compensation_interval: Duration::from_millis(500),
            outbox_batch: 100,
            outbox_poll: Duration::from_millis(1_000),
            outbox_retention: Duration::from_secs(3_600),
            heartbeat_interval: Duration::from_secs(5),
            ops_interval: Duration::from_secs(2),
            integrity_interval: Duration::from_secs(5),
            integrity_settle: Duration::from_secs(60),
            integrity_window: Duration::from_secs(15 * 60),
            alert_thresholds: Thresholds::default(),
            checkout_max_in_flight: 256,
            password_hashing_slots: std::thread::available_parallelism().map_or(2, usize::from),
        }
    }

    /// The defaults, overridden by environment variables.
    pub fn from_env(service: ServiceSettings) -> Result<Self, ConfigError> {
        let d = Self::new(
            service,
            Component::Inventory.base_url(),
            Component::Payment.base_url(),
        );
        let ms = |name: &str, default: Duration| millis(name, default.as_millis() as u64);
        Ok(Self {
            inventory_timeout: ms("INVENTORY_TIMEOUT_MS", d.inventory_timeout)?,
            payment_timeout: ms("PAYMENT_TIMEOUT_MS", d.payment_timeout)?,
            breaker_window: secs("CIRCUIT_WINDOW_SECS", d.breaker_window.as_secs())?,
            order_deadline: secs("ORDER_DEADLINE_SECS", d.order_deadline.as_secs())?,
            checkout_grace: ms("CHECKOUT_GRACE_MS", d.checkout_grace)?,
            idempotency_retention: secs("IDEMPOTENCY_RETENTION_SECS", d.idempotency_retention.as_secs())?,
            reconciler_interval: ms("RECONCILER_INTERVAL_MS", d.reconciler_interval)?,
            retry_min: ms("ORDER_RETRY_MIN_MS", d.retry_min)?,
            retry_max: ms("ORDER_RETRY_MAX_MS", d.retry_max)?,
            compensation: compensation::Policy {
                rate_per_sec: parse("COMPENSATION_RATE_PER_SEC", d.compensation.rate_per_sec)?,
                max_concurrency: parse("COMPENSATION_MAX_CONCURRENCY", d.compensation.max_concurrency)?,
                max_attempts: parse("COMPENSATION_MAX_ATTEMPTS", d.compensation.max_attempts)?,
                base_delay: ms("COMPENSATION_BASE_DELAY_MS", d.compensation.base_delay)?,
                max_delay: ms("COMPENSATION_MAX_DELAY_MS", d.compensation.max_delay)?,
            },
            compensation_interval: ms("COMPENSATION_INTERVAL_MS", d.compensation_interval)?,
            outbox_batch: parse("OUTBOX_BATCH", d.outbox_batch)?,
            outbox_poll: ms("OUTBOX_POLL_MS", d.outbox_poll)?,
            outbox_retention: secs("OUTBOX_RETENTION_SECS", d.outbox_retention.as_secs())?,
            heartbeat_interval: ms("HEARTBEAT_INTERVAL_MS", d.heartbeat_interval)?,
            ops_interval: ms("OPS_SAMPLE_INTERVAL_MS", d.ops_interval)?,
            integrity_interval: ms("INTEGRITY_INTERVAL_MS", d.integrity_interval)?,
            integrity_settle: secs("INTEGRITY_SETTLE_SECS", d.integrity_settle.as_secs())?,
            integrity_window: secs("INTEGRITY_WINDOW_SECS", d.integrity_window.as_secs())?,
            alert_thresholds: Thresholds {
                queue_oldest_secs: parse("ALERT_QUEUE_OLDEST_SECS", d.alert_thresholds.queue_oldest_secs)?,
                dead_letters_max: parse("ALERT_DEAD_LETTERS_MAX", d.alert_thresholds.dead_letters_max)?,
                outbox_oldest_secs: parse("ALERT_OUTBOX_OLDEST_SECS", d.alert_thresholds.outbox_oldest_secs)?,
            },
            checkout_max_in_flight: parse("CHECKOUT_MAX_IN_FLIGHT", d.checkout_max_in_flight)?,
            password_hashing_slots: parse("PASSWORD_HASHING_SLOTS", d.password_hashing_slots)?.max(1),
            ..d
        })
    }
}

/// Builds the service (connects, migrates, starts its actors, binds) without running it.
pub async fn build(settings: Settings) -> anyhow::Result<Application> {
    let infra = Infra::start::<migrations::order::Migrator>(settings.service.clone()).await?;
    let db = infra.db.clone();
    // Background work (retries, compensations, the relay, monitors) uses its own pool, so
    // that it can never take the connections a shopper's checkout is waiting for.
    let background = infra.background_db.clone();
    let inventory = clients::Dependency::new(
        "inventory",
        settings.inventory_url.clone(),
        settings.inventory_timeout,
        settings.breaker_window,
    )
    .authenticated_as("order", &settings.service.service_token);
    let payment = clients::Dependency::new(
        "payment",
        settings.payment_url.clone(),
        settings.payment_timeout,
        settings.breaker_window,
    )
    .authenticated_as("order", &settings.service.service_token);

    let compensator = compensation::Compensator::new(
        background.clone(),
        inventory.clone(),
        payment.clone(),
        settings.compensation.clone(),
    );
    let compensation_worker =
        periodic::start("compensation-worker", settings.compensation_interval, compensator);

    let saga = saga::Saga {
        db: db.clone(),
        inventory: inventory.clone(),
        payment: payment.clone(),
        compensations: compensation::Compensations::with_worker(compensation_worker.clone()),
        retry_min: settings.retry_min,
        retry_max: settings.retry_max,
    };
    let reconciler = reconciler::Reconciler {
        db: background.clone(),
        saga: saga::Saga {
            db: background.clone(),
            ..saga.clone()
        },
    };
    let reconciler = periodic::start("reconciler", settings.reconciler_interval, reconciler);

    // The relay drains the outbox to RabbitMQ; NOTIFY wakes it, the poll is the fallback.
    let relay = platform_messaging::Relay::new(
        background.clone(),
        infra.broker.clone(),
        settings.outbox_batch,
        settings.outbox_retention,
    );
    let demo = demo::Demo {
        db: db.clone(),
        relay: relay.clone(),
        broker: infra.broker.clone(),
        reads: infra.reads.clone(),
        database_url: settings.service.database_url.clone(),
    };
    let relay_worker = periodic::start("outbox-relay", settings.outbox_poll, relay);
    platform_messaging::outbox::listen(settings.service.database_url.clone(), relay_worker.clone());
    let heartbeat = heartbeat::Heartbeat {
        db: background.clone(),
    };
    let heartbeat = periodic::start("heartbeat", settings.heartbeat_interval, heartbeat);

    // Queue health, outbox backlog and alerts: sampled and evaluated in the background.
    let monitor = platform_messaging::monitor::QueueMonitor::new(
        &settings.service.rabbitmq_management_url,
        &settings.service.amqp_url,
    );
    // Every confirmed order's effects, checked with the services that produce them.
    let integrity = integrity::Integrity::new(
        background.clone(),
        vec![
            ("inventory", settings.inventory_url.clone()),
            ("payment", settings.payment_url.clone()),
            ("email", settings.email_url.clone()),
            ("analytics", settings.analytics_url.clone()),
        ],
        settings.integrity_settle,
        settings.integrity_window,
    )?;
    let integrity_worker = periodic::start(
        "integrity-monitor",
        settings.integrity_interval,
        integrity.clone(),
    );
    let ops = alerts::OpsMonitor::new(
        background.clone(),
        monitor,
        settings.alert_thresholds.clone(),
        settings.analytics_url.clone(),
        integrity.clone(),
        infra.reads.clone(),
    );
    let ops_worker = periodic::start("ops-monitor", settings.ops_interval, ops.clone());
    let journey = journey::Journey {
        credential: platform_http::service_auth::credential("order", &settings.service.service_token),
        services: vec![
            ("inventory", settings.inventory_url.clone()),
            ("payment", settings.payment_url.clone()),
            ("email", settings.email_url.clone()),
            ("analytics", settings.analytics_url.clone()),
        ],
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?,
    };

    let state = checkout::Checkout {
        db,
        saga,
        catalog: catalog::Catalog::new(inventory, Duration::from_secs(30)),
        in_flight: std::sync::Arc::new(tokio::sync::Semaphore::new(settings.checkout_max_in_flight)),
        settings: settings.clone(),
    };
    let hashing = identity::HashingSlots::new(settings.password_hashing_slots);
    let ops_routes = ops.routes();
    let integrity_routes = integrity.routes();
    let app = infra.serve(vec![], move |cfg| {
        api::routes(cfg, state.clone(), hashing.clone());
        journey::routes(cfg, journey.clone());
        demo::routes(cfg, demo.clone());
        ops_routes(cfg);
        integrity_routes(cfg);
    })?;
    Ok(app
        .on_shutdown(periodic::stop_hook(ops_worker))
        .on_shutdown(periodic::stop_hook(integrity_worker))
        .on_shutdown(periodic::stop_hook(relay_worker))
        .on_shutdown(periodic::stop_hook(heartbeat))
        .on_shutdown(periodic::stop_hook(compensation_worker))
        .on_shutdown(periodic::stop_hook(reconciler)))
}
