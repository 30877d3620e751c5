//! "Which of these orders have you acted on, and how many times?": how the order service
//! checks, while the platform runs, that every confirmed order got each of its effects once.
//!
//! Each consumer service answers for its own effect (inventory: the stock committed;
//! payment: the money captured; email: the confirmation sent; analytics: the order
//! counted), from its own database. The order service asks about its recently confirmed
//! orders and exports what it hears as `orders_lost` (an effect missing after the settle
//! time) and `orders_duplicated` (an effect more than once), the live form of what the
//! chaos suite's checker counts after a run (docs/reliability.md).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `POST` on inventory, payment, email and analytics.
pub const EFFECTS_PATH: &str = "/effects";

/// At most this many order ids per question.
pub const MAX_EFFECTS_PER_REQUEST: usize = 1000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EffectsRequest {
    pub order_ids: Vec<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EffectsResponse {
    /// What the effect is ("stock committed", "payment captured"...), for people.
    pub effect: String,
    /// The orders asked about that have the effect at least once; an order not listed has
    /// none.
    pub effects: Vec<OrderEffect>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderEffect {
    pub order_id: Uuid,
    /// How many times the effect happened (1 is right; more is a duplicate).
    pub count: i64,
}

/// `GET /ops/integrity` on the order service: the latest live check, read by the ops page.
pub const INTEGRITY_PATH: &str = "/ops/integrity";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct IntegrityReport {
    pub checked_at: Option<DateTime<Utc>>,
    /// Confirmed orders looked at (confirmed within the window, past the settle time).
    pub checked_orders: usize,
    pub settle_secs: u64,
    pub window_secs: u64,
    /// Orders with an effect still missing after the settle time.
    pub lost: usize,
    /// Orders with an effect more than once.
    pub duplicated: usize,
    /// Not terminal, past their deadline.
    pub stuck: i64,
    pub oldest_open_secs: Option<f64>,
    /// The first few orders with a problem, to start an investigation from.
    pub findings: Vec<Finding>,
    /// Services that did not answer this time (their effects were not judged).
    pub unreachable: Vec<String>,
}

/// One order and what is wrong with it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Finding {
    pub order_id: Uuid,
    /// e.g. "email: confirmation email sent 0 times"
    pub problems: Vec<String>,
}
