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
//! - [`Subscriber`]: all of the above for a service that consumes order events, in two calls.

pub mod consumer;
pub mod consumer_admin;
pub mod dead_letters;
pub mod effects;
pub mod management;
pub mod monitor;
pub mod outbox;
pub mod processed_events;
pub mod publish;
mod subscription;
pub mod topology;

pub use consumer::{ConsumerHandle, ConsumerSpec, Handler, HandlerError, Tuning};
pub use outbox::{Relay, enqueue};
pub use subscription::{Subscriber, Subscription, subscribe};
