//! The order service's answer to "what became of these orders?": how a service that holds
//! something on an order's behalf (inventory's reservations) asks the owner of the outcome
//! before it lets go.
//!
//! Why ask, rather than expire on a timer: a reservation's timer runs out whenever the
//! `order.confirmed` event is late (the relay or the broker down longer than the TTL). An
//! inventory that returned the stock then would sell it twice: once to the shopper who was
//! told "confirmed", once to the next one. Only the order service knows whether the order
//! is confirmed, so only its answer may release stock.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::order::OrderStatus;

/// `POST` on the order service.
pub const OUTCOMES_PATH: &str = "/orders/outcomes";

/// At most this many order ids per question.
pub const MAX_OUTCOMES_PER_REQUEST: usize = 500;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutcomesRequest {
    pub order_ids: Vec<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutcomesResponse {
    /// One entry per order id asked about, in no particular order.
    pub outcomes: Vec<OrderOutcome>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderOutcome {
    pub order_id: Uuid,
    /// Where the order stands, as its owner says; `None` when the order service has no such
    /// order (it was never created).
    pub status: Option<OrderStatus>,
}
