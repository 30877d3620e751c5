//! The RabbitMQ connection.
//!
//! A service must keep serving while the broker is down: checkouts write their events to
//! the outbox table, not to the broker, precisely so that the broker is *not* on the
//! critical path. So the connection is not opened once at start-up and trusted forever.
//! A keeper task opens it, watches it, and reopens it with backoff whenever it drops;
//! everything that publishes or consumes asks the [`Broker`] handle for the current one.

mod connection;

pub use connection::{Broker, BrokerError};
