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
//! - Contract tests (`tests/contracts.rs`) pin the wire format with fixture files, so a
//!   change that would break a consumer fails the build of the producer.

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
pub mod inventory;
pub mod journey;
pub mod money;
pub mod ops;
pub mod order;
pub mod outcomes;
pub mod payment;
mod state;

pub use envelope::{EXCHANGE, Envelope, EnvelopeError};
pub use events::{Event, Heartbeat, OrderCancelled, OrderConfirmed, OrderEvent, OrderLine, OrderRejected};
pub use money::Money;
pub use state::UnknownState;
