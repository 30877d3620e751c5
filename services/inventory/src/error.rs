use platform_http::ApiError;
use sea_orm::DbErr;
use serde_json::json;

use platform_contracts::inventory::{ReservationStatus, Shortage};

/// Everything that can go wrong in the inventory service, mapped to HTTP once, below.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("unknown products: {0:?}")]
    UnknownProducts(Vec<String>),
    #[error("not enough stock")]
    InsufficientStock(Vec<Shortage>),
    #[error("no reservation for this order")]
    ReservationNotFound,
    #[error("the reservation is {0}")]
    ReservationClosed(ReservationStatus),
    #[error("the reservation was committed; it cannot be released")]
    AlreadyCommitted,
    #[error("this order id was reserved with other lines")]
    ReservationMismatch,
    #[error("product not found")]
    ProductNotFound,
    #[error("the Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    /// A reservation batch (batching.rs) failed as a whole: nothing of it was held.
    #[error("the reservation batch failed: {0}")]
    BatchFailed(String),
    #[error(transparent)]
    Database(#[from] DbErr),
}

impl From<InventoryError> for ApiError {
    fn from(e: InventoryError) -> Self {
        match e {
            InventoryError::Invalid(msg) => ApiError::bad_request("invalid_request", msg),
            InventoryError::UnknownProducts(skus) => ApiError::unprocessable(
                "unknown_product",
                format!("unknown products: {}", skus.join(", ")),
            )
            .details(json!({ "skus": skus })),
            InventoryError::InsufficientStock(lines) => {
                ApiError::conflict("insufficient_stock", "not enough stock for some lines")
                    .details(json!({ "lines": lines }))
            }
            InventoryError::ReservationNotFound => {
                ApiError::not_found("reservation_not_found", "no reservation for this order")
            }
            InventoryError::ReservationClosed(status) => ApiError::conflict(
                "reservation_closed",
                format!("the reservation is already {status}"),
            )
            .details(json!({ "status": status })),
            InventoryError::AlreadyCommitted => ApiError::conflict(
                "already_committed",
                "the reservation was committed (stock sold); it cannot be released",
            ),
            InventoryError::ReservationMismatch => ApiError::unprocessable(
                "reservation_mismatch",
                "this order id was already reserved with different lines",
            ),
            InventoryError::ProductNotFound => ApiError::not_found("product_not_found", "no such product"),
            InventoryError::IdempotencyKeyReused => ApiError::unprocessable(
                "idempotency_key_reused",
                "this Idempotency-Key was already used with a different request",
            ),
            InventoryError::BatchFailed(cause) => {
                tracing::warn!(%cause, "reservation batch failed");
                ApiError::unavailable(
                    "reservation_batch_failed",
                    "the batch this reservation was in failed and nothing was held; retry",
                    1,
                )
            }
            InventoryError::Database(e) => platform_db::api_error(e),
        }
    }
}
