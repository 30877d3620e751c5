//! Event payloads. Each has a type (the routing key), the version it is produced at, and
//! the versions a consumer of this code base can read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::Money;

pub trait Event: Serialize {
    const TYPE: &'static str;
    /// The version this code produces.
    const VERSION: u32;
    /// The versions this code can read.
    const READS: &'static [u32];
    fn aggregate_id(&self) -> String;
}

/// A line of an order that was not confirmed (order.rejected): the price is 0 when the
/// order was refused before its stock was priced.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: i32,
    pub unit_price_minor: i64,
}

/// A line of a confirmed order, with its price.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PricedLine {
    pub sku: String,
    pub quantity: i32,
    pub unit_price: Money,
}

/// The order is confirmed: stock is reserved and payment authorized. Consumers commit the
/// reservation, capture the payment, send the confirmation email, count the sale.
///
/// Version 2: money is one value, `{ amount_minor, currency }`, for the total and for each
/// line's unit price. Version 1 had a bare `total_minor` next to `currency` and each line's
/// `unit_price_minor`; a v1 event still in a queue, an outbox or a dead-letter queue is read
/// through [`crate::upcast::v1`] (docs/schema-evolution.md).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderConfirmed {
    pub order_id: Uuid,
    pub customer_id: String,
    pub lines: Vec<PricedLine>,
    pub total: Money,
    pub confirmed_at: DateTime<Utc>,
}

/// The order was refused (out of stock, card declined). Nothing was sold.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderRejected {
    pub order_id: Uuid,
    pub customer_id: String,
    pub reason_code: String,
    pub reason: String,
    #[serde(default)]
    pub lines: Vec<OrderLine>,
}

/// The order is cancelled: either the system gave up on it (no definite outcome by its
/// deadline; consumers release the reservation and void the authorization, idempotently),
/// or its customer cancelled it after it was confirmed (`after_confirmation`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderCancelled {
    pub order_id: Uuid,
    pub customer_id: String,
    pub reason_code: String,
    pub reason: String,
    /// The order had been confirmed, and its stock committed and its money captured by the
    /// fan-out (or about to be): the order service itself gives them back, through its
    /// durable compensations (return the stock, refund the payment). Inventory and payment
    /// have nothing to do; email and analytics tell and count a cancellation. Added without
    /// a new version (additive): events from before it read as `false`, which they were.
    #[serde(default)]
    pub after_confirmation: bool,
}

/// Published every few seconds by the order service through the same outbox and broker as
/// real events. A projection that stops receiving it is stale, even when no orders flow.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Heartbeat {
    pub producer: String,
    pub sent_at: DateTime<Utc>,
}

impl Event for OrderConfirmed {
    const TYPE: &'static str = "order.confirmed";
    const VERSION: u32 = 2;
    /// Read directly; v1 is read through its upcaster (`OrderEvent::decode`).
    const READS: &'static [u32] = &[2];
    fn aggregate_id(&self) -> String {
        self.order_id.to_string()
    }
}

impl Event for OrderRejected {
    const TYPE: &'static str = "order.rejected";
    const VERSION: u32 = 1;
    const READS: &'static [u32] = &[1];
    fn aggregate_id(&self) -> String {
        self.order_id.to_string()
    }
}

impl Event for OrderCancelled {
    const TYPE: &'static str = "order.cancelled";
    const VERSION: u32 = 1;
    const READS: &'static [u32] = &[1];
    fn aggregate_id(&self) -> String {
        self.order_id.to_string()
    }
}

impl Event for Heartbeat {
    const TYPE: &'static str = "order.heartbeat";
    const VERSION: u32 = 1;
    const READS: &'static [u32] = &[1];
    fn aggregate_id(&self) -> String {
        self.producer.clone()
    }
}

/// The service that produces every event here (the envelope's `producer`).
pub const PRODUCER: &str = "order";

/// Every event type it produces, with the version it produces.
pub const PRODUCED: &[(&str, u32)] = &[
    (OrderConfirmed::TYPE, OrderConfirmed::VERSION),
    (OrderRejected::TYPE, OrderRejected::VERSION),
    (OrderCancelled::TYPE, OrderCancelled::VERSION),
    (Heartbeat::TYPE, Heartbeat::VERSION),
];

/// An event of the order service, decoded by its type: what every consumer of order events
/// matches on, exhaustively, instead of comparing type strings in each service. An older
/// version is upcast to the current one here, once for every consumer. A type nobody here
/// knows, or a version this code cannot read, is the same permanent error for every
/// consumer (dead-lettered with the reason).
#[derive(Debug, Clone, PartialEq)]
pub enum OrderEvent {
    Confirmed(OrderConfirmed),
    Rejected(OrderRejected),
    Cancelled(OrderCancelled),
    Heartbeat(Heartbeat),
}

impl OrderEvent {
    pub fn decode(envelope: &crate::Envelope) -> Result<Self, crate::EnvelopeError> {
        Ok(match envelope.event_type.as_str() {
            OrderConfirmed::TYPE => Self::Confirmed(match envelope.schema_version {
                1 => envelope.decode::<crate::upcast::v1::OrderConfirmed>()?.into(),
                _ => envelope.decode()?,
            }),
            OrderRejected::TYPE => Self::Rejected(envelope.decode()?),
            OrderCancelled::TYPE => Self::Cancelled(envelope.decode()?),
            Heartbeat::TYPE => Self::Heartbeat(envelope.decode()?),
            other => return Err(crate::EnvelopeError::UnknownType(other.to_string())),
        })
    }

    /// Its type, the routing key.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Confirmed(_) => OrderConfirmed::TYPE,
            Self::Rejected(_) => OrderRejected::TYPE,
            Self::Cancelled(_) => OrderCancelled::TYPE,
            Self::Heartbeat(_) => Heartbeat::TYPE,
        }
    }
}
