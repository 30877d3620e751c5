//! The fan-out, written once and used by every service:
//!
//! - [`outbox`]: write an event in the caller's transaction; a relay publishes it later with
//!   publisher confirms (no dual writes).
//! - [`topology`]: exchanges and queues declared by code: a durable topic exchange, a queue
//!   per consumer purpose, delayed retry queues with growing delays, a dead-letter queue.
//! - [`consumer`]: an idempotent consumer actor (effects exactly once under at-least-once
//!   delivery), with retries and dead-lettering.
//! - [`consumer_admin`]: list, pause and resume the consumers from admin endpoints.
//! - [`processed_events`]: `GET /processed-events`, which events this service applied for an
//!   entity (the order journey).
//! - [`dead_letters`]: list and replay dead letters from an admin endpoint.
//! - [`effects`]: `POST /effects`, which confirmed orders this consumer acted on, and how often.

pub mod consumer;
pub mod consumer_admin;
pub mod dead_letters;
pub mod effects;
pub mod management;
pub mod monitor;
pub mod outbox;
pub mod processed_events;
pub mod publish;
pub mod topology;

pub use consumer::{ConsumerHandle, ConsumerSpec, Handler, HandlerError, Tuning};
pub use outbox::{Relay, enqueue};

use std::sync::Arc;

use actix_web::web;
use platform_broker::Broker;
use platform_http::Faults;
use sea_orm::DatabaseConnection;

/// A running consumer and the operator endpoints that come with it (dead letters, pause
/// and resume, processed events): what every consuming service sets up, in one call.
pub struct Subscription {
    pub handle: ConsumerHandle,
    db: DatabaseConnection,
    broker: Broker,
    effect: effects::ConfirmedEffect,
}

pub fn subscribe(
    spec: ConsumerSpec,
    db: DatabaseConnection,
    broker: Broker,
    handler: Arc<dyn Handler>,
    faults: Faults,
) -> Subscription {
    let effect = handler.confirmed_effect();
    let handle = consumer::start(spec, db.clone(), broker.clone(), handler, faults);
    Subscription {
        handle,
        db,
        broker,
        effect,
    }
}

impl Subscription {
    pub fn routes(&self) -> impl Fn(&mut web::ServiceConfig) + Clone + use<> {
        let dead_letters = dead_letters::routes(self.broker.clone(), vec![self.handle.spec.queue.clone()]);
        let consumer_admin = consumer_admin::routes(vec![self.handle.clone()]);
        let processed_events = processed_events::routes(self.db.clone());
        let effects = effects::routes(self.db.clone(), self.effect);
        move |cfg| {
            dead_letters(cfg);
            consumer_admin(cfg);
            processed_events(cfg);
            effects(cfg);
        }
    }
}
