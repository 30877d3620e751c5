use actix_web::http::StatusCode;
use platform_contracts::payment::{Declined, PaymentStatus};
use platform_http::ApiError;
use sea_orm::DbErr;
use serde_json::json;

/// Everything that can go wrong in the payment service, mapped to HTTP once, below.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("payment declined: {0}")]
    Declined(String),
    #[error("the provider is rate limiting")]
    RateLimited { retry_after_secs: u64 },
    #[error("the provider failed")]
    ProviderFailed,
    #[error("an authorization for this order is in progress")]
    InProgress,
    #[error("this order id was authorized with another amount or customer")]
    Mismatch,
    #[error("the payment is {0}")]
    WrongState(PaymentStatus),
    #[error("no payment for this order")]
    NotFound,
    #[error("no such account")]
    AccountNotFound,
    #[error(transparent)]
    Database(#[from] DbErr),
}

impl From<PaymentError> for ApiError {
    fn from(e: PaymentError) -> Self {
        match e {
            PaymentError::Invalid(msg) => ApiError::bad_request("invalid_request", msg),
            PaymentError::Declined(code) => ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "payment_declined",
                format!("the payment was declined: {code}"),
            )
            .details(json!(Declined { decline_code: code })),
            PaymentError::RateLimited { retry_after_secs } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "the card provider is rate limiting; nothing was charged",
            )
            .retry_after(retry_after_secs),
            PaymentError::ProviderFailed => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "provider_error",
                "the card provider failed; nothing was charged",
            ),
            PaymentError::InProgress => ApiError::conflict(
                "authorization_in_progress",
                "an authorization for this order is still in progress; retry later",
            )
            .retry_after(1),
            PaymentError::Mismatch => ApiError::unprocessable(
                "payment_mismatch",
                "this order id was already used with another amount or customer",
            ),
            PaymentError::WrongState(status) => {
                ApiError::conflict("payment_state", format!("the payment is {status}"))
                    .details(json!({ "status": status }))
            }
            PaymentError::NotFound => ApiError::not_found("payment_not_found", "no payment for this order"),
            PaymentError::AccountNotFound => ApiError::not_found("account_not_found", "no such account"),
            PaymentError::Database(e) => platform_db::api_error(e),
        }
    }
}
