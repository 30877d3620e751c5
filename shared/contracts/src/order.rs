//! The order service's HTTP API: checkout, the order as clients see it, and the operator's
//! compensations. Served by the order service, called by the storefront and the load tests'
//! tools with these types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{error::ErrorDetail, state::states};

pub const ORDERS_PATH: &str = "/orders";

pub fn order_path(id: Uuid) -> String {
    format!("{ORDERS_PATH}/{id}")
}

/// `POST /orders/{id}/cancel`: the customer cancels a confirmed order (Idempotency-Key).
pub fn cancel_path(id: Uuid) -> String {
    format!("{ORDERS_PATH}/{id}/cancel")
}

/// `POST /admin/orders/{id}/ship` (admin): the order leaves the warehouse; it can no longer
/// be cancelled.
pub fn ship_path(id: Uuid) -> String {
    format!("/admin{ORDERS_PATH}/{id}/ship")
}

/// The body of `POST /orders/{id}/cancel`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CancelRequest {
    /// Why, in the customer's words (kept on the order and in the email).
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /orders`, with an `Idempotency-Key` header.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlaceOrder {
    /// Optional: the customer's token says who orders; naming anyone else is refused (403).
    #[serde(default)]
    pub customer_id: String,
    pub lines: Vec<LineInput>,
    /// A test card number of the simulated provider (see payment's `/test-cards`).
    pub card_number: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LineInput {
    pub sku: String,
    /// Read as a wide integer so that an absurd value gets a clear range error.
    pub quantity: i64,
}

states! {
    /// Where an order stands. The order service moves it; every order reaches a terminal
    /// state (confirmed, rejected, cancelled) without a human.
    pub enum OrderStatus {
        /// Created; its stock is being reserved.
        Pending => "pending",
        /// Stock held; its payment is being authorized.
        StockReserved => "stock_reserved",
        /// Paid and final: the shopper was told "confirmed".
        Confirmed => "confirmed",
        /// Refused for a business reason (out of stock, card declined).
        Rejected => "rejected",
        /// Given up (no definite outcome by the deadline, or refused downstream).
        Cancelled => "cancelled",
    }
}

impl OrderStatus {
    /// The states the reconciler still has to drive somewhere.
    pub const NON_TERMINAL: [OrderStatus; 2] = [OrderStatus::Pending, OrderStatus::StockReserved];

    pub fn is_terminal(self) -> bool {
        !Self::NON_TERMINAL.contains(&self)
    }
}

/// An order, without its lines.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "db", derive(sea_orm::FromQueryResult))]
pub struct Order {
    pub id: Uuid,
    pub customer_id: String,
    pub status: OrderStatus,
    pub reason_code: Option<String>,
    pub reason: Option<String>,
    pub total_minor: Option<i64>,
    pub currency: String,
    pub correlation_id: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub deadline_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[cfg_attr(feature = "db", derive(sea_orm::FromQueryResult))]
pub struct OrderLine {
    pub sku: String,
    pub quantity: i32,
    /// Set once inventory has priced the line (at reservation).
    pub unit_price_minor: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "db", derive(sea_orm::FromQueryResult))]
pub struct TimelineEntry {
    pub step: String,
    pub outcome: String,
    pub detail: Option<String>,
    /// who did it: checkout (the shopper's request), reconciler, compensator, operator
    pub actor: String,
    pub correlation_id: String,
    pub at: DateTime<Utc>,
}

states! {
    /// An undo the order service owes after a checkout did not complete.
    pub enum CompensationKind {
        /// Return the held stock (inventory).
        ReleaseReservation => "release_reservation",
        /// Release the held money (payment).
        VoidAuthorization => "void_authorization",
        /// Put a cancelled order's stock back on sale (inventory): a reservation committed,
        /// or not yet committed, becomes `returned` and its stock available again.
        ReturnStock => "return_stock",
        /// Give a cancelled order's money back (payment): refunded if captured, voided if
        /// still only authorized.
        RefundPayment => "refund_payment",
    }
}

states! {
    pub enum CompensationStatus {
        /// Due, or waiting for its next attempt.
        Pending => "pending",
        Done => "done",
        /// Out of attempts: an operator must retry it.
        Parked => "parked",
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "db", derive(sea_orm::FromQueryResult))]
pub struct Compensation {
    pub id: Uuid,
    pub order_id: Uuid,
    pub kind: CompensationKind,
    pub status: CompensationStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub correlation_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An order as clients see it: `GET /orders/{id}`, and the answer to `POST /orders`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    #[serde(flatten)]
    pub order: Order,
    pub lines: Vec<OrderLine>,
    pub timeline: Vec<TimelineEntry>,
    pub compensations: Vec<Compensation>,
    /// Present when the order was rejected or cancelled: why, in the shared error shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
    pub links: Links,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Links {
    #[serde(rename = "self")]
    pub self_url: String,
}
