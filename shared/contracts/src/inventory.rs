//! Inventory's HTTP API: the catalog, stock and reservations. The inventory service serves
//! these types and the order service and the storefront call with them, so a renamed field
//! is a compile error on both sides instead of a total of 0 on a confirmed order.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::state::states;

pub const PRODUCTS_PATH: &str = "/products";
pub const RESERVATIONS_PATH: &str = "/reservations";

/// `POST` here releases the order's reservation (idempotent; fences a late reserve).
pub fn release_path(order_id: Uuid) -> String {
    format!("{RESERVATIONS_PATH}/{order_id}/release")
}

/// `POST` here commits the order's reservation (held stock becomes sold).
pub fn commit_path(order_id: Uuid) -> String {
    format!("{RESERVATIONS_PATH}/{order_id}/commit")
}

/// `POST /reservations/{order_id}/return`: a cancelled order's stock goes back on sale.
pub fn return_path(order_id: Uuid) -> String {
    format!("{RESERVATIONS_PATH}/{order_id}/return")
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Line {
    pub sku: String,
    pub quantity: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "db", derive(sea_orm::FromQueryResult))]
pub struct Product {
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price_minor: i64,
    pub currency: String,
    pub available: i32,
    pub reserved: i32,
    pub sold: i32,
    pub initial_stock: i32,
    pub hot: bool,
}

/// `POST /reservations`: hold all lines or none.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReserveRequest {
    pub order_id: Uuid,
    pub lines: Vec<Line>,
}

states! {
    /// Where a reservation stands. Only `Reserved` holds stock.
    pub enum ReservationStatus {
        /// Stock held for the order.
        Reserved => "reserved",
        /// The order was confirmed and its stock sold.
        Committed => "committed",
        /// Stock returned (the order ended otherwise), or a fence against a late reserve.
        Released => "released",
        /// Stock returned because the order's owner said it will never be confirmed.
        Expired => "expired",
        /// A cancelled order's stock, put back on sale: from `Committed` (sold back to
        /// available) or, when the cancel came before the commit, from `Reserved`.
        Returned => "returned",
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Reservation {
    pub order_id: Uuid,
    pub status: ReservationStatus,
    pub correlation_id: String,
    pub expires_at: DateTime<Utc>,
    /// Every line with the unit price inventory charged.
    pub lines: Vec<ReservedLine>,
    pub total_minor: i64,
    pub currency: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[cfg_attr(feature = "db", derive(sea_orm::FromQueryResult))]
pub struct ReservedLine {
    pub sku: String,
    pub quantity: i32,
    pub unit_price_minor: i64,
}

/// One line that could not be reserved: the `details.lines` of a 409 `insufficient_stock`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Shortage {
    pub sku: String,
    pub requested: i32,
    pub available: i32,
}

/// The answer to a release or a commit.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SettleResponse {
    pub order_id: Uuid,
    pub status: ReservationStatus,
}

/// `POST /admin/products/{sku}/restock`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RestockRequest {
    /// Units to add (1 to 100,000).
    pub quantity: i32,
}

states! {
    /// How a product's reservations take its stock (`stock.rs`, `batching.rs` in inventory).
    pub enum ReservationMode {
        /// Each reservation its own transaction on the product's row: every buyer of the
        /// product waits for the row lock of the one before, for a commit each.
        Row => "row",
        /// Single-line reservations of the product queue up and are taken many per
        /// transaction: one lock and one commit for a whole batch (for truly hot products).
        Batched => "batched",
    }
}

/// `PUT /admin/products/{sku}/reservation-mode`: the body, and the answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ProductReservationMode {
    pub sku: String,
    pub mode: ReservationMode,
}

/// `PUT` here sets how the product's reservations take its stock.
pub fn reservation_mode_path(sku: &str) -> String {
    format!("/admin/products/{sku}/reservation-mode")
}
