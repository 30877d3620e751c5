//! The email service: turns order outcomes into emails, exactly one of each kind per order.
//!
//! Email is an external side effect: it cannot join a database transaction, and a mail
//! server can be slow or down for minutes. So it is split in two:
//! 1. the consumer (`events.rs`) renders the email and *records* it, in the same
//!    transaction as the processed-events row: redelivery cannot record it twice, and the
//!    unique (order, kind) key makes sure of it;
//! 2. the sender (`sender.rs`) delivers recorded emails through lettre (SMTP when
//!    `SMTP_URL` is set, otherwise `.eml` files under `$DATA_DIR/mail`), retries with
//!    backoff, and marks them sent.
//!
//! A slow or dead mail server therefore delays emails; it never fails a checkout.

mod api;
mod events;
mod sender;
mod templates;

use std::{path::PathBuf, time::Duration};

use platform_config::{ConfigError, ServiceSettings, millis, parse, string};
use platform_http::Application;
use platform_messaging::{Subscriber, Tuning};
use platform_service::{Infra, periodic};

/// Operations that fault switches can target (see `/admin/faults`).
pub const FAULT_OPERATIONS: &[&str] = &["consume", "deliver"];

#[derive(Debug, Clone)]
pub struct Settings {
    pub service: ServiceSettings,
    /// Retry and prefetch knobs of the order-events consumer.
    pub consumer: Tuning,
    /// `smtp://host:port` to deliver through a mail server; empty writes files instead.
    pub smtp_url: String,
    /// Where file delivery writes `.eml` files.
    pub mail_dir: PathBuf,
    pub from: String,
    pub send_interval: Duration,
    /// How long a pass owns the emails it claimed: a sender that dies mid-send leaves them
    /// to be sent again after this.
    pub send_lease: Duration,
    pub max_attempts: i32,
}

impl Settings {
    pub fn new(service: ServiceSettings, mail_dir: PathBuf) -> Self {
        Self {
            service,
            consumer: Tuning::default(),
            smtp_url: String::new(),
            mail_dir,
            from: "Order platform <orders@platform.local>".into(),
            send_interval: Duration::from_millis(500),
            send_lease: Duration::from_secs(60),
            max_attempts: 8,
        }
    }

    pub fn from_env(service: ServiceSettings) -> Result<Self, ConfigError> {
        let data_dir = string("DATA_DIR", ".dev");
        let d = Self::new(service, PathBuf::from(data_dir).join("mail"));
        Ok(Self {
            consumer: Tuning::from_env()?,
            smtp_url: string("SMTP_URL", ""),
            from: string("MAIL_FROM", &d.from),
            send_interval: millis("EMAIL_SEND_INTERVAL_MS", d.send_interval.as_millis() as u64)?,
            send_lease: millis("EMAIL_SEND_LEASE_MS", d.send_lease.as_millis() as u64)?,
            max_attempts: parse("EMAIL_MAX_ATTEMPTS", d.max_attempts)?,
            ..d
        })
    }
}

/// Builds the service (connects, migrates, starts its actors, binds) without running it.
pub async fn build(settings: Settings) -> anyhow::Result<Application> {
    let infra = Infra::start::<migrations::email::Migrator>(settings.service.clone()).await?;
    let subscriber = Subscriber::start(
        &infra,
        "email",
        events::BINDINGS,
        &settings.consumer,
        events::OrderEvents,
    );
    let sender = sender::Sender::new(infra.background_db.clone(), &settings, subscriber.faults.clone())?;
    let sender_worker = periodic::start("email-sender", settings.send_interval, sender);
    let app = subscriber.serve(&infra, FAULT_OPERATIONS, api::routes)?;
    Ok(app.on_shutdown(periodic::stop_hook(sender_worker)))
}
