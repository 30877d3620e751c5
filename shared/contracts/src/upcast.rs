//! Events of older versions, and how each becomes the current one.
//!
//! A new version is deployed while events of the old one still sit in queues, in outboxes
//! (written before the deploy, published after it) and in dead-letter queues (replayed
//! days later). Each consumer would otherwise need to read every version itself; instead
//! an old version is read here, as it was, and converted once, in `OrderEvent::decode`, so
//! every consumer only ever handles the current shape. Each conversion is counted
//! (`evolution::upcast`): when the count stays at zero for longer than anything can wait
//! in a queue, an outbox or a dead-letter queue, the old version's reader can go.

/// `order.confirmed` v1, as every version of the producer before the money change wrote
/// it: before its expand step only `total_minor`, `currency` and each line's
/// `unit_price_minor`; from it, also the v2 shapes (`total`, `unit_price`).
pub mod v1 {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Serialize};
    use uuid::Uuid;

    use crate::{Event, Money, evolution};

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
    pub struct OrderConfirmed {
        pub order_id: Uuid,
        pub customer_id: String,
        pub lines: Vec<Line>,
        pub total_minor: i64,
        pub currency: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub total: Option<Money>,
        pub confirmed_at: DateTime<Utc>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
    pub struct Line {
        pub sku: String,
        pub quantity: i32,
        pub unit_price_minor: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub unit_price: Option<Money>,
    }

    impl Event for OrderConfirmed {
        const TYPE: &'static str = crate::OrderConfirmed::TYPE;
        const VERSION: u32 = 1;
        const READS: &'static [u32] = &[1];
        fn aggregate_id(&self) -> String {
            self.order_id.to_string()
        }
    }

    /// v1 → v2. The expand step's new fields are taken when the event has them; an event
    /// from before it is read through its old fields, each such read counted.
    impl From<OrderConfirmed> for crate::OrderConfirmed {
        fn from(v1: OrderConfirmed) -> Self {
            evolution::upcast(OrderConfirmed::TYPE, OrderConfirmed::VERSION);
            let money = |amount_minor| Money {
                amount_minor,
                currency: v1.currency.clone(),
            };
            let lines = v1
                .lines
                .iter()
                .map(|l| crate::PricedLine {
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                    unit_price: l.unit_price.clone().unwrap_or_else(|| {
                        evolution::old_field_read(OrderConfirmed::TYPE, "lines[].unit_price_minor");
                        money(l.unit_price_minor)
                    }),
                })
                .collect();
            let total = v1.total.clone().unwrap_or_else(|| {
                evolution::old_field_read(OrderConfirmed::TYPE, "total_minor");
                money(v1.total_minor)
            });
            Self {
                order_id: v1.order_id,
                customer_id: v1.customer_id,
                lines,
                total,
                confirmed_at: v1.confirmed_at,
            }
        }
    }
}

/// The strict v1 reader (`ops::ReaderMode::StrictV1`): reads an order.confirmed as v1
/// whatever its `schema_version`, as a consumer that never checked versions would, and
/// fails on what v1 requires and the event lacks, naming the field. Other event types pass.
pub fn read_strictly_as_v1(envelope: &crate::Envelope) -> Result<(), crate::EnvelopeError> {
    use crate::Event;
    if envelope.event_type != v1::OrderConfirmed::TYPE {
        return Ok(());
    }
    serde_path_to_error::deserialize::<_, v1::OrderConfirmed>(&envelope.payload)
        .map(|_| ())
        .map_err(|e| crate::EnvelopeError::BadPayload {
            event_type: envelope.event_type.clone(),
            version: envelope.schema_version,
            reason: format!("strict v1 reader: {}: {}", e.path(), e.inner()),
        })
}
