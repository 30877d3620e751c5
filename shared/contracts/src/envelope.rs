use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;
use uuid::Uuid;

use crate::events::Event;

/// The one topic exchange every event is published to; the routing key is the event type.
pub const EXCHANGE: &str = "platform.events";

/// What travels on the wire around every event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope {
    /// Unique per event (UUID v7: sortable by time). Consumers deduplicate on it.
    pub event_id: Uuid,
    /// e.g. `order.confirmed`; also the routing key.
    pub event_type: String,
    /// The payload's contract version.
    pub schema_version: u32,
    pub occurred_at: DateTime<Utc>,
    /// The shopper action this event descends from.
    pub correlation_id: String,
    /// The event or request that directly caused this one, if any.
    #[serde(default)]
    pub causation_id: Option<String>,
    /// The service that produced it.
    pub producer: String,
    /// The entity it is about (e.g. the order id).
    pub aggregate_id: String,
    pub payload: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not a valid event envelope: {0}")]
    Malformed(String),
    #[error("{event_type} schema_version {found} is not supported (this consumer reads {supported:?})")]
    UnsupportedVersion {
        event_type: String,
        found: u32,
        supported: &'static [u32],
    },
    #[error("payload does not match {event_type} v{version}: {reason}")]
    BadPayload {
        event_type: String,
        version: u32,
        reason: String,
    },
    #[error("{0} is not an event type this consumer knows")]
    UnknownType(String),
}

impl Envelope {
    pub fn new<E: Event>(
        event: &E,
        producer: &str,
        correlation_id: &str,
        causation_id: Option<String>,
    ) -> Self {
        Self {
            event_id: Uuid::now_v7(),
            event_type: E::TYPE.to_string(),
            schema_version: E::VERSION,
            occurred_at: Utc::now(),
            correlation_id: correlation_id.to_string(),
            causation_id,
            producer: producer.to_string(),
            aggregate_id: event.aggregate_id(),
            payload: serde_json::to_value(event).expect("event payloads always serialise"),
        }
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        serde_json::from_slice(bytes).map_err(|e| EnvelopeError::Malformed(e.to_string()))
    }

    /// Reads the payload as `E`, if this consumer understands the event's version.
    pub fn decode<E: Event + DeserializeOwned>(&self) -> Result<E, EnvelopeError> {
        if !E::READS.contains(&self.schema_version) {
            return Err(EnvelopeError::UnsupportedVersion {
                event_type: self.event_type.clone(),
                found: self.schema_version,
                supported: E::READS,
            });
        }
        // The path of the offending field goes into the reason: a dead letter that says
        // "payload.total_minor: invalid type" is fixable; "invalid type" is a puzzle.
        serde_path_to_error::deserialize(&self.payload).map_err(|e| EnvelopeError::BadPayload {
            event_type: self.event_type.clone(),
            version: self.schema_version,
            reason: format!("{}: {}", e.path(), e.inner()),
        })
    }
}
