//! The idempotent consumer.
//!
//! Delivery is at least once: the relay may publish twice, the broker may redeliver after
//! a lost ack. Effects must happen once. So each message is handled in one database
//! transaction that (1) inserts `(consumer, event_id)` into `processed_events` and (2)
//! applies the effect; the message is acknowledged only after that transaction commits.
//! A duplicate hits the primary key and is acknowledged with no effect. Two copies
//! arriving at once serialise on that key: the second waits for the first to commit, then
//! sees it.
//!
//! Under load, events are handled in batches: the events a fetch brings (up to the
//! prefetch) share one transaction, with one `processed_events` insert for all of them,
//! so the database commits once per batch instead of once per event (each commit is a
//! WAL flush and two round trips). The guarantees are the same: the batch's effects and
//! its deduplication records commit together, its messages are acknowledged after the
//! commit, and if anything in the batch fails the whole transaction rolls back and each
//! event is handled again on its own, with the sorting of failures below. A handler that
//! locks several rows per event opts out ([`Handler::batchable`]).
//!
//! Failures are sorted, because they need opposite treatment:
//! - transient (database busy, a fault switch): retried after a growing delay, through the
//!   retry queues, at most `max_retries` times, then dead-lettered;
//! - permanent (not an envelope, unknown schema version, a payload that does not parse):
//!   dead-lettered at once with the reason, because retrying cannot help. The queue keeps
//!   flowing either way: one poison message never blocks the ones behind it.
//!
//! One job per file: `settings` (a consumer's name, queue and limits), `actor` (the
//! supervised actor and its handle), `delivery` (the AMQP loop and the single-event path),
//! `batch` (events that share a transaction), `dedup` (an effect with its
//! `processed_events` record), `routing` (acknowledge, retry or dead-letter) and `switches`
//! (the operator's pause and reader, stored for every instance).

use futures_util::future::BoxFuture;
use platform_contracts::{Envelope, EnvelopeError};
use sea_orm::{DatabaseTransaction, DbErr};

mod actor;
mod batch;
mod dedup;
mod delivery;
mod reader;
mod routing;
mod settings;
mod switches;

use actor::Inner;
pub use actor::{ConsumerActor, ConsumerHandle, start};
use routing::Outcome;
pub use settings::{ConsumerSpec, Tuning};
pub use switches::Switches;

#[derive(Debug)]
pub enum HandlerError {
    Transient(String),
    Permanent(String),
}

impl From<DbErr> for HandlerError {
    fn from(e: DbErr) -> Self {
        HandlerError::Transient(e.to_string())
    }
}

impl HandlerError {
    /// An event this consumer is not bound to (its bindings and its handler disagree):
    /// retrying cannot help, the dead letter says which.
    pub fn not_bound(event_type: &str) -> Self {
        HandlerError::Permanent(format!("this consumer is not bound to {event_type}"))
    }
}

impl From<EnvelopeError> for HandlerError {
    fn from(e: EnvelopeError) -> Self {
        HandlerError::Permanent(e.to_string())
    }
}

/// What a service does with an event, inside the consumer's transaction.
pub trait Handler: Send + Sync + 'static {
    /// How this consumer's effect of a confirmed order is counted (`POST /effects`): the
    /// order service checks with it that every confirmed order got the effect once.
    const CONFIRMED_EFFECT: crate::effects::ConfirmedEffect;

    /// Applies the event's effect in `txn`, the transaction that also records the event as
    /// processed: both commit or neither.
    fn handle(
        &self,
        txn: &DatabaseTransaction,
        envelope: &Envelope,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;

    /// Whether several events may share one transaction. Say no when handling one event
    /// locks several rows that other transactions lock too (inventory's products): one
    /// event's rows can be locked in a consistent order, but a batch locks them event after
    /// event, and two such transactions can each hold what the other waits for.
    fn batchable(&self) -> bool {
        true
    }
}

/// A [`Handler`] as the consumer holds it: one consumer type serves every handler.
pub(crate) trait DynHandler: Send + Sync + 'static {
    fn handle<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        envelope: &'a Envelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>>;

    fn batchable(&self) -> bool;
}

impl<H: Handler> DynHandler for H {
    fn handle<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        envelope: &'a Envelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(Handler::handle(self, txn, envelope))
    }

    fn batchable(&self) -> bool {
        Handler::batchable(self)
    }
}
