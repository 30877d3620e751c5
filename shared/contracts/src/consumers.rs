//! Consumer-driven contracts: what each consumer reads from each event, declared here by
//! the consumer, in one place per consumer. The producer's tests check every declaration
//! against events its own code produced (`tests/integration/consumer_contracts.rs`), so a
//! producer change that removes or renames a field some consumer still reads fails the
//! producer's build, naming that consumer, before any consumer reads `null` in production.
//!
//! A field path is a dot-separated walk through the payload; `lines[]` means "every element
//! of the array `lines`". A declared field must be present and not null.

use serde_json::Value;

use crate::{Event, Heartbeat, OrderCancelled, OrderConfirmed, OrderRejected};

/// One consumer's reading of one event type.
#[derive(Debug, Clone, Copy)]
pub struct Expectation {
    pub consumer: &'static str,
    pub event_type: &'static str,
    /// The `schema_version`s it reads (an older one through its upcaster, `crate::upcast`).
    pub versions: &'static [u32],
    /// The payload fields it reads, in the newest version it reads.
    pub fields: &'static [&'static str],
}

/// Inventory commits a confirmed order's stock and releases a cancelled one's.
pub const INVENTORY: &[Expectation] = &[
    Expectation {
        consumer: "inventory",
        event_type: OrderConfirmed::TYPE,
        versions: &[1, 2],
        fields: &["order_id"],
    },
    Expectation {
        consumer: "inventory",
        event_type: OrderCancelled::TYPE,
        versions: &[1],
        fields: &["order_id", "after_confirmation"],
    },
];

/// Payment captures a confirmed order's authorization and voids a cancelled one's.
pub const PAYMENT: &[Expectation] = &[
    Expectation {
        consumer: "payment",
        event_type: OrderConfirmed::TYPE,
        versions: &[1, 2],
        fields: &["order_id"],
    },
    Expectation {
        consumer: "payment",
        event_type: OrderCancelled::TYPE,
        versions: &[1],
        fields: &["order_id", "after_confirmation"],
    },
];

/// Email writes to the customer about every outcome.
pub const EMAIL: &[Expectation] = &[
    Expectation {
        consumer: "email",
        event_type: OrderConfirmed::TYPE,
        versions: &[1, 2],
        fields: &[
            "order_id",
            "customer_id",
            "lines[].sku",
            "lines[].quantity",
            "lines[].unit_price.amount_minor",
            "lines[].unit_price.currency",
            "total.amount_minor",
            "total.currency",
        ],
    },
    Expectation {
        consumer: "email",
        event_type: OrderRejected::TYPE,
        versions: &[1],
        fields: &["order_id", "customer_id", "reason"],
    },
    Expectation {
        consumer: "email",
        event_type: OrderCancelled::TYPE,
        versions: &[1],
        fields: &["order_id", "customer_id", "reason", "after_confirmation"],
    },
];

/// Analytics counts orders, revenue, product sales and rejection reasons, and watches the
/// heartbeat to know whether its numbers are fresh.
pub const ANALYTICS: &[Expectation] = &[
    Expectation {
        consumer: "analytics",
        event_type: OrderConfirmed::TYPE,
        versions: &[1, 2],
        fields: &[
            "order_id",
            "total.amount_minor",
            "lines[].sku",
            "lines[].quantity",
            "lines[].unit_price.amount_minor",
        ],
    },
    Expectation {
        consumer: "analytics",
        event_type: OrderRejected::TYPE,
        versions: &[1],
        fields: &["order_id", "reason_code"],
    },
    Expectation {
        consumer: "analytics",
        event_type: OrderCancelled::TYPE,
        versions: &[1],
        fields: &["order_id", "reason_code", "after_confirmation"],
    },
    Expectation {
        consumer: "analytics",
        event_type: Heartbeat::TYPE,
        versions: &[1],
        fields: &["producer", "sent_at"],
    },
];

/// Every consumer's declarations.
pub const ALL: [&[Expectation]; 4] = [INVENTORY, PAYMENT, EMAIL, ANALYTICS];

/// What is wrong with `envelope` (an event as produced, in JSON) for the consumers that read
/// its type: one line per broken expectation, naming the consumer. Empty when all hold.
pub fn broken_expectations(envelope: &Value) -> Vec<String> {
    let event_type = envelope["event_type"].as_str().unwrap_or_default();
    let version = envelope["schema_version"].as_u64().unwrap_or_default() as u32;
    let mut broken = Vec::new();
    for e in ALL
        .iter()
        .flat_map(|c| c.iter())
        .filter(|e| e.event_type == event_type)
    {
        if !e.versions.contains(&version) {
            broken.push(format!(
                "{}: reads {} versions {:?}, produced v{version}",
                e.consumer, e.event_type, e.versions
            ));
        }
        for field in e.fields {
            if !present(&envelope["payload"], field) {
                broken.push(format!(
                    "{}: reads {}.{field}, which the producer no longer sends (or sends as null)",
                    e.consumer, e.event_type
                ));
            }
        }
    }
    broken
}

/// Whether every value at `path` is there and not null (and an array walked by `[]` has at
/// least one element, or nothing was checked).
fn present(value: &Value, path: &str) -> bool {
    let Some((head, rest)) = path.split_once('.') else {
        return !value[path].is_null();
    };
    match head.strip_suffix("[]") {
        Some(array) => value[array]
            .as_array()
            .is_some_and(|items| !items.is_empty() && items.iter().all(|item| present(item, rest))),
        None => present(&value[head], rest),
    }
}

/// Event types some consumer reads.
pub fn read_types() -> Vec<&'static str> {
    let mut types: Vec<&str> = ALL.iter().flat_map(|c| c.iter()).map(|e| e.event_type).collect();
    types.sort_unstable();
    types.dedup();
    types
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_missing_field_names_every_consumer_that_reads_it() {
        let price = json!({ "amount_minor": 100, "currency": "EUR" });
        let mut event = json!({
            "event_type": "order.confirmed", "schema_version": 2,
            "payload": { "order_id": "o", "customer_id": "c",
                         "lines": [{ "sku": "mug", "quantity": 1, "unit_price": price }] }
        });
        let broken = broken_expectations(&event);
        assert_eq!(broken.len(), 3, "{broken:?}");
        assert!(
            broken
                .iter()
                .any(|b| b.starts_with("email: reads order.confirmed.total.amount_minor"))
        );
        assert!(
            broken
                .iter()
                .any(|b| b.starts_with("analytics: reads order.confirmed.total.amount_minor"))
        );
        event["payload"]["total"] = price.clone();
        assert!(broken_expectations(&event).is_empty());
        event["payload"]["lines"][0]["unit_price"]["amount_minor"] = Value::Null;
        assert_eq!(broken_expectations(&event).len(), 2);
        event["schema_version"] = json!(7);
        assert!(
            broken_expectations(&event)
                .iter()
                .any(|b| b.contains("produced v7"))
        );
    }
}
