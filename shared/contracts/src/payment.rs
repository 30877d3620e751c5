//! Payment's HTTP API: accounts and payments against the simulated card provider, served by
//! the payment service and called by the order service and the storefront with these types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::state::states;

pub const AUTHORIZE_PATH: &str = "/payments/authorize";
pub const TEST_CARDS_PATH: &str = "/test-cards";

/// `POST` here voids the order's authorization (idempotent; fences a late authorize).
pub fn void_path(order_id: Uuid) -> String {
    format!("/payments/{order_id}/void")
}

/// `POST` here captures the order's authorized amount.
/// `POST /payments/{order_id}/refund`: a cancelled order's money goes back (refunded if
/// captured, voided if only authorized).
pub fn refund_path(order_id: Uuid) -> String {
    format!("/payments/{order_id}/refund")
}

pub fn capture_path(order_id: Uuid) -> String {
    format!("/payments/{order_id}/capture")
}

pub fn account_path(customer_id: &str) -> String {
    format!("/accounts/{customer_id}")
}

/// `POST /payments/authorize`: hold the amount on the customer's account.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuthorizeRequest {
    pub order_id: Uuid,
    pub customer_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub card_number: String,
}

states! {
    /// Where a payment stands. The money moves with each state (see payment's `ledger.rs`).
    pub enum PaymentStatus {
        /// Claimed: the provider is being asked. Nothing held yet.
        Pending => "pending",
        /// The amount is held on the account.
        Authorized => "authorized",
        /// The held amount was taken.
        Captured => "captured",
        /// The hold was released, or a fence against a late authorize.
        Voided => "voided",
        /// The captured amount was given back.
        Refunded => "refunded",
        /// The provider (or the balance) said no; nothing moved.
        Declined => "declined",
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "db", derive(sea_orm::FromQueryResult))]
pub struct Payment {
    pub order_id: Uuid,
    pub customer_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub card_last4: String,
    pub status: PaymentStatus,
    pub decline_code: Option<String>,
    pub provider_ref: Option<String>,
    pub correlation_id: String,
    pub provider_calls: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The `details` of a 402 `payment_declined`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Declined {
    pub decline_code: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "db", derive(sea_orm::FromQueryResult))]
pub struct Account {
    pub customer_id: String,
    pub balance_minor: i64,
    pub held_minor: i64,
    pub captured_minor: i64,
    pub currency: String,
}

/// One of the simulated provider's test cards.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TestCard {
    pub number: String,
    pub behaviour: String,
}

/// Whether this is a card number as the provider takes it: 12 to 19 digits, nothing else.
/// The payment service refuses anything else before it asks the provider.
pub fn is_card_number(s: &str) -> bool {
    (12..=19).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// The card number as the shopper typed it, with spaces and dashes dropped, or `None` when
/// what is left is not a card number. The order service checks it before it stores an order.
pub fn normalize_card_number(input: &str) -> Option<String> {
    let digits: String = input.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    is_card_number(&digits).then_some(digits)
}

/// The message for a card number these checks refuse.
pub const CARD_NUMBER_RULE: &str = "card_number must be 12 to 19 digits";
