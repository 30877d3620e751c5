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

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: i32,
    /// On its way out of order.confirmed (read [`OrderConfirmed::unit_price`] instead);
    /// still the price order.rejected carries.
    #[deprecated = "read OrderConfirmed::unit_price(line): it counts reads of this field"]
    pub unit_price_minor: i64,
    /// Expand step of the money change (docs/schema-evolution.md): the unit price as
    /// `Money`, next to `unit_price_minor`. Absent in events produced before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<Money>,
}

/// The order is confirmed: stock is reserved and payment authorized. Consumers commit the
/// reservation, capture the payment, send the confirmation email, count the sale.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderConfirmed {
    pub order_id: Uuid,
    pub customer_id: String,
    pub lines: Vec<OrderLine>,
    #[deprecated = "read OrderConfirmed::total(): it counts reads of this field"]
    pub total_minor: i64,
    #[deprecated = "read OrderConfirmed::total(): it counts reads of this field"]
    pub currency: String,
    /// Expand step of the money change (docs/schema-evolution.md): the total as `Money`,
    /// next to `total_minor` and `currency`, which the producer still sends for consumers
    /// not yet migrated. Absent in events produced before the expand step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<Money>,
    pub confirmed_at: DateTime<Utc>,
}

/// Migrate step of the money change: consumers read money through these, which take the
/// new shape and fall back to the old fields only for events produced before the expand
/// step, counting each such read (`evolution`), so the old fields' last readers are known.
#[allow(deprecated)]
impl OrderConfirmed {
    /// The order's total.
    pub fn total(&self) -> Money {
        self.total.clone().unwrap_or_else(|| {
            crate::evolution::old_field_read(Self::TYPE, "total_minor");
            Money {
                amount_minor: self.total_minor,
                currency: self.currency.clone(),
            }
        })
    }

    /// A line's unit price, in the order's currency.
    pub fn unit_price(&self, line: &OrderLine) -> Money {
        line.unit_price.clone().unwrap_or_else(|| {
            crate::evolution::old_field_read(Self::TYPE, "lines[].unit_price_minor");
            Money {
                amount_minor: line.unit_price_minor,
                currency: self.currency.clone(),
            }
        })
    }
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

/// The system gave up on the order (no definite outcome by its deadline) and undoes it.
/// Consumers release the reservation and void the authorization (idempotently).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderCancelled {
    pub order_id: Uuid,
    pub customer_id: String,
    pub reason_code: String,
    pub reason: String,
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
    const VERSION: u32 = 1;
    const READS: &'static [u32] = &[1];
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
/// matches on, exhaustively, instead of comparing type strings in each service. A type
/// nobody here knows, or a version this code cannot read, is the same permanent error for
/// every consumer (dead-lettered with the reason).
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
            OrderConfirmed::TYPE => Self::Confirmed(envelope.decode()?),
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
