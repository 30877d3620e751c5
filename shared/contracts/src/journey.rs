//! The journey of one order across every service: "is this order done, and if not, where
//! is it and who owns the next step?". `GET /orders/{id}/journey` on the order service,
//! read by the storefront's order page (and its live fragment) with these types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{order::OrderStatus, state::states};

/// `GET` on any consuming service: which events it applied for an entity, and when.
pub fn processed_events_path(aggregate_id: &str) -> String {
    format!("/processed-events?aggregate_id={aggregate_id}")
}

/// One event a consumer applied (its deduplication record).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "db", derive(sea_orm::FromQueryResult))]
pub struct ProcessedEvent {
    pub consumer: String,
    pub event_id: Uuid,
    pub event_type: String,
    pub correlation_id: String,
    pub occurred_at: DateTime<Utc>,
    pub processed_at: DateTime<Utc>,
}

pub fn journey_path(order_id: Uuid) -> String {
    format!("/orders/{order_id}/journey")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journey {
    pub order_id: Uuid,
    pub status: OrderStatus,
    pub correlation_id: String,
    /// Every service has done its part: nothing is pending.
    pub done: bool,
    pub pending: Vec<Pending>,
    /// Every step that names a correlation id names the checkout's.
    pub correlation_consistent: bool,
    pub steps: Vec<Step>,
}

/// Something still to happen, and the service that owns it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub what: String,
    pub owner: String,
}

states! {
    pub enum StepStatus {
        Done => "done",
        Pending => "pending",
    }
}

/// One thing a service did (or still has to do) for the order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    pub service: String,
    pub step: String,
    pub status: StepStatus,
    /// When it happened; absent for a current state (the reservation) or a step not done.
    pub at: Option<DateTime<Utc>>,
    pub correlation_id: Option<String>,
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The journey as the order service answers it (built with `json!`): these types read it.
    #[test]
    fn the_order_services_journey_reads_as_a_journey() {
        let wire = serde_json::json!({
            "order_id": "0192f0c4-0000-7000-8000-000000000002",
            "status": "confirmed",
            "correlation_id": "c-1",
            "done": false,
            "pending": [{ "what": "send the email", "owner": "email" }],
            "correlation_consistent": true,
            "steps": [
                {
                    "service": "order",
                    "step": "reserve",
                    "status": "done",
                    "at": "2026-01-02T03:04:05.123456Z",
                    "correlation_id": "c-1",
                    "detail": "ok by checkout",
                },
                {
                    "service": "email",
                    "step": "email order_confirmed",
                    "status": "pending",
                    "at": null,
                    "correlation_id": "c-1",
                    "detail": "queued to alice@customers.example",
                },
            ],
        });
        let journey: Journey = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(journey.steps[1].status, StepStatus::Pending);
        assert_eq!(serde_json::to_value(&journey).unwrap(), wire);
    }
}
