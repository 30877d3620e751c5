//! The contracts between services: every event travels in one [`Envelope`], and every
//! payload type lives here, once, shared by the producer and all its consumers.
//!
//! How contracts evolve without breaking anyone (the schema-evolution lesson):
//! - **Additive changes need no new version.** A new optional field is added with
//!   `#[serde(default)]`; old consumers ignore it (readers are tolerant: no
//!   `deny_unknown_fields`), new consumers cope with old events that lack it.
//! - **Never rename or remove in place.** Expand/contract: emit both the old and the new
//!   field, move every consumer to the new one, watch that nobody reads the old one, then
//!   stop emitting it. A consumer reading `null` from a renamed field and writing wrong
//!   numbers for days is the failure this prevents.
//! - **A change of meaning is a new contract**: a new `schema_version` (or event type).
//!   Consumers declare the versions they understand; an event with a version they do not
//!   know is dead-lettered with the reason, never half-understood.
//! - **Events of an old version keep being read** after the new one is deployed: they wait
//!   in queues, outboxes and dead-letter queues. [`upcast`] reads each old version as it was
//!   and converts it to the current one, once, for every consumer; [`evolution`] counts
//!   every upcast and every read of a field on its way out (`GET /ops/contracts`).
//! - Contract tests (`tests/contracts.rs`) pin the wire format with fixture files, and each
//!   consumer declares what it reads ([`consumers`]), checked against events the producer's
//!   code produced: a change that would break a consumer fails the producer's tests.
//!
//! docs/schema-evolution.md walks through one change done this way: order.confirmed's
//! money, v1 → v2.

//!
//! The HTTP APIs on the synchronous path have their request and response types here too
//! ([`inventory`], [`payment`], [`order`]), used by the server and by every caller, so a
//! renamed field is a compile error on both sides. States are enums ([`state`]), written as
//! text once. The operator's answers (queues, alerts, outbox, dead letters, consumers, fault
//! switches, readiness) are in [`ops`].

pub mod analytics;
pub mod consumers;
pub mod effects;
pub mod email;
mod envelope;
pub mod error;
pub mod events;
pub mod evolution;
pub mod identity;
pub mod inventory;
pub mod journey;
pub mod money;
pub mod ops;
pub mod order;
pub mod outcomes;
pub mod payment;
mod state;
pub mod upcast;

pub use envelope::{EXCHANGE, Envelope, EnvelopeError};
pub use events::{
    Event, Heartbeat, OrderCancelled, OrderConfirmed, OrderEvent, OrderLine, OrderRejected, PricedLine,
};
pub use money::Money;
pub use state::UnknownState;
