//! The fan-out, written once and used by every service:
//!
//! - [`outbox`]: write an event in the caller's transaction; a relay publishes it later with
//!   publisher confirms (no dual writes).
//! - [`topology`]: exchanges and queues declared by code: a durable topic exchange, a queue
//!   per consumer purpose, delayed retry queues with growing delays, a dead-letter queue.
//! - [`consumer`]: an idempotent consumer actor (effects exactly once under at-least-once
//!   delivery), with retries and dead-lettering.
//! - [`dead_letters`]: list and replay dead letters from an admin endpoint.

pub mod consumer;
pub mod dead_letters;
pub mod outbox;
pub mod publish;
pub mod topology;

pub use consumer::{ConsumerHandle, ConsumerSpec, Handler, HandlerError, Tuning};
pub use outbox::{Relay, enqueue};
