use actix_web::http::StatusCode;
use platform_contracts::order::OrderStatus;
use platform_http::ApiError;
use sea_orm::DbErr;
use serde_json::json;
use uuid::Uuid;

/// Everything that can go wrong in the order service, mapped to HTTP once, below.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("invalid order: {0}")]
    InvalidJson(String),
    #[error("the Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still being processed")]
    RequestInFlight { order_id: Option<Uuid> },
    #[error("unknown products: {0:?}")]
    UnknownProducts(Vec<String>),
    #[error("{dependency} is unavailable")]
    DependencyUnavailable {
        dependency: &'static str,
        retry_after_secs: u64,
    },
    #[error("order not found")]
    NotFound,
    #[error("an order that is {status} cannot be cancelled")]
    NotCancellable { status: OrderStatus },
    #[error("the order has shipped")]
    AlreadyShipped,
    #[error("an order that is {status} cannot ship")]
    NotShippable { status: OrderStatus },
    #[error("signed in as {signed_in}, the order names {named}")]
    ForeignCustomer { signed_in: String, named: String },
    #[error("a customer with this id already exists")]
    CustomerExists,
    #[error("wrong customer id or password")]
    InvalidCredentials,
    #[error("every password-hashing slot stayed taken")]
    SignInBusy,
    #[error("compensation not found or not parked")]
    CompensationNotParked,
    #[error("internal error: {0}")]
    Internal(String),
    #[error(transparent)]
    Database(#[from] DbErr),
}

impl From<OrderError> for ApiError {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::Invalid(msg) => ApiError::bad_request("invalid_request", msg),
            OrderError::InvalidJson(msg) => {
                ApiError::bad_request("invalid_json", format!("invalid order: {msg}"))
            }
            OrderError::IdempotencyKeyReused => ApiError::unprocessable(
                "idempotency_key_reused",
                "this Idempotency-Key was already used with a different request body",
            ),
            OrderError::RequestInFlight { order_id } => ApiError::conflict(
                "request_in_flight",
                "a request with this Idempotency-Key is still being processed; retry shortly",
            )
            .retry_after(1)
            .details(json!({
                "order_id": order_id,
                "status_url": order_id.map(|id| format!("/orders/{id}")),
            })),
            OrderError::UnknownProducts(skus) => ApiError::unprocessable(
                "unknown_product",
                format!("unknown products: {}", skus.join(", ")),
            )
            .details(json!({ "skus": skus })),
            OrderError::DependencyUnavailable {
                dependency,
                retry_after_secs,
            } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "dependency_unavailable",
                format!("{dependency} is unavailable; nothing was ordered, retry later"),
            )
            .retry_after(retry_after_secs),
            OrderError::NotFound => ApiError::not_found("order_not_found", "no such order"),
            OrderError::NotCancellable { status } => ApiError::conflict(
                "not_cancellable",
                format!("only a confirmed order can be cancelled; this one is {status}"),
            )
            .details(json!({ "status": status })),
            OrderError::AlreadyShipped => ApiError::conflict(
                "already_shipped",
                "the order has shipped and can no longer be cancelled; return it instead",
            ),
            OrderError::NotShippable { status } => ApiError::conflict(
                "not_shippable",
                format!("only a confirmed order can ship; this one is {status}"),
            ),
            OrderError::ForeignCustomer { signed_in, named } => ApiError::forbidden(
                "forbidden_customer",
                format!("you are signed in as {signed_in} and cannot order as {named}"),
            ),
            OrderError::CustomerExists => ApiError::conflict(
                "customer_exists",
                "a customer with this id already exists; sign in instead",
            ),
            OrderError::InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "wrong customer id or password",
            ),
            OrderError::SignInBusy => ApiError::unavailable(
                "sign_in_busy",
                "too many sign-ups and sign-ins at once; retry after Retry-After seconds",
                1,
            ),
            OrderError::CompensationNotParked => {
                ApiError::not_found("compensation_not_parked", "no parked compensation with this id")
            }
            OrderError::Internal(cause) => ApiError::internal(cause),
            OrderError::Database(e) => platform_db::api_error(e),
        }
    }
}
