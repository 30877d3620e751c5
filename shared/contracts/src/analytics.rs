//! The analytics service's HTTP API: the projection's figures, one order's count, and the
//! load shedding state. Served by the analytics service, read by the storefront's analytics
//! and ops pages with these types.
//!
//! Every figure comes from an eventually consistent projection: [`Freshness`] says how far
//! behind it is, and nothing here is ever used for a money decision.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::order::OrderStatus;

pub const SUMMARY_PATH: &str = "/analytics/summary";
pub const BACKPRESSURE_PATH: &str = "/ops/backpressure";

/// `GET` here: how analytics counted one order ([`CountedOrder`]), 404 while it has not.
pub fn counted_order_path(order_id: Uuid) -> String {
    format!("/analytics/orders/{order_id}")
}

/// `GET /analytics/summary`: every figure read from one snapshot, so they add up.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    /// The last 60 minutes, oldest first, one row per minute and outcome.
    pub per_minute: Vec<MinuteOutcomes>,
    /// The ten best-selling products by revenue.
    pub top_products: Vec<ProductSales>,
    pub rejection_reasons: Vec<RejectionReason>,
    pub totals: Totals,
    pub freshness: Freshness,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "db", derive(sea_orm::FromQueryResult))]
pub struct MinuteOutcomes {
    pub minute: DateTime<Utc>,
    /// A terminal order state: confirmed, rejected or cancelled.
    pub outcome: OrderStatus,
    pub orders: i64,
    pub revenue_minor: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "db", derive(sea_orm::FromQueryResult))]
pub struct ProductSales {
    pub sku: String,
    pub units: i64,
    pub revenue_minor: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "db", derive(sea_orm::FromQueryResult))]
pub struct RejectionReason {
    pub reason_code: String,
    pub orders: i64,
}

/// Every order counted so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "db", derive(sea_orm::FromQueryResult))]
pub struct Totals {
    pub confirmed: i64,
    pub rejected: i64,
    pub cancelled: i64,
    pub revenue_minor: i64,
}

/// How far behind the projection is.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Freshness {
    /// When the newest event applied happened.
    pub last_event_at: Option<DateTime<Utc>>,
    /// Milliseconds since then.
    pub lag_ms: Option<i64>,
    /// When the order service sent the newest heartbeat seen.
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    pub heartbeat_age_ms: Option<i64>,
    /// No heartbeat for this long and the projection is stale.
    pub stale_after_ms: u64,
    pub stale: bool,
}

/// How analytics counted one order (the journey shows it).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "db", derive(sea_orm::FromQueryResult))]
pub struct CountedOrder {
    pub order_id: Uuid,
    pub outcome: OrderStatus,
    pub total_minor: i64,
    pub correlation_id: String,
    pub occurred_at: DateTime<Utc>,
    pub counted_at: DateTime<Utc>,
}

/// `GET /ops/backpressure`: whether analytics has paused itself to protect critical work.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Backpressure {
    pub engaged: bool,
    /// Which critical queue is over its limit, while engaged.
    pub reason: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub policy: BackpressurePolicy,
    pub consumer_paused: bool,
}

/// When analytics sheds its own work: a critical queue deeper than `max_depth` messages or
/// with a message older than `max_age` pauses it; it resumes under half of both.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackpressurePolicy {
    pub critical_queues: Vec<String>,
    pub max_depth: u64,
    pub max_age: Duration,
}

/// The documented policy (docs/observability.md): inventory's and payment's order events.
impl Default for BackpressurePolicy {
    fn default() -> Self {
        Self {
            critical_queues: vec!["inventory.order-events".into(), "payment.order-events".into()],
            max_depth: 500,
            max_age: Duration::from_secs(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The summary as the analytics service sent it before these types existed (a `json!`
    /// of its row structs): the same field names, both ways.
    #[test]
    fn a_summary_keeps_its_wire_format() {
        let wire = serde_json::json!({
            "per_minute": [{
                "minute": "2026-01-02T03:04:00Z",
                "outcome": "confirmed",
                "orders": 3,
                "revenue_minor": 5400,
            }],
            "top_products": [{ "sku": "mug", "units": 3, "revenue_minor": 5400 }],
            "rejection_reasons": [{ "reason_code": "out_of_stock", "orders": 1 }],
            "totals": { "confirmed": 3, "rejected": 1, "cancelled": 0, "revenue_minor": 5400 },
            "freshness": {
                "last_event_at": "2026-01-02T03:04:05.123456Z",
                "lag_ms": 120,
                "last_heartbeat_at": null,
                "heartbeat_age_ms": null,
                "stale_after_ms": 30000,
                "stale": true,
            },
        });
        let summary: Summary = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(summary.per_minute[0].outcome, OrderStatus::Confirmed);
        assert_eq!(serde_json::to_value(&summary).unwrap(), wire);
    }

    #[test]
    fn the_backpressure_state_keeps_its_wire_format() {
        let wire = serde_json::json!({
            "engaged": false,
            "reason": null,
            "since": null,
            "policy": {
                "critical_queues": ["inventory.order-events", "payment.order-events"],
                "max_depth": 500,
                "max_age": { "secs": 30, "nanos": 0 },
            },
            "consumer_paused": false,
        });
        let state = Backpressure {
            engaged: false,
            reason: None,
            since: None,
            policy: BackpressurePolicy::default(),
            consumer_paused: false,
        };
        assert_eq!(serde_json::to_value(&state).unwrap(), wire);
        let read: Backpressure = serde_json::from_value(wire).unwrap();
        assert_eq!(read.policy.max_age, Duration::from_secs(30));
    }
}
