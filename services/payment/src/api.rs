//! The payment HTTP API.

use actix_web::{HttpResponse, web};
use platform_contracts::payment::{Account, AuthorizeRequest, Payment, PaymentStatus, TestCard};
use platform_db::reads::Tolerant;
use platform_http::{ApiError, Caller, OrderOnly, Reader};
use platform_service::faults::Faults;
use platform_telemetry::CorrelationId;
use sea_orm::DatabaseConnection;
use utoipa::OpenApi;
use uuid::Uuid;

use crate::{
    ledger,
    provider::{Provider, TEST_CARDS},
};

#[derive(Clone)]
pub struct State {
    pub db: DatabaseConnection,
    pub provider: Provider,
    pub opening_balance_minor: i64,
    pub faults: Faults,
}

pub fn routes(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(web::Data::new(state))
        .route("/openapi.json", web::get().to(openapi))
        .route("/test-cards", web::get().to(test_cards))
        .route("/accounts/{customer_id}", web::get().to(get_account))
        .route("/payments/authorize", web::post().to(authorize))
        .route("/payments/{order_id}", web::get().to(get_payment))
        .route("/payments/{order_id}/capture", web::post().to(capture))
        .route("/payments/{order_id}/void", web::post().to(void))
        .route("/payments/{order_id}/refund", web::post().to(refund));
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "payment",
        description = "Accounts and payments against a simulated card provider. Every operation is idempotent per order id."
    ),
    paths(test_cards, get_account, authorize, get_payment, capture, void, refund),
    components(schemas(AuthorizeRequest, Payment, PaymentStatus, Account, TestCard))
)]
struct ApiDoc;

async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// The simulated provider's test cards.
#[utoipa::path(get, path = "/test-cards", responses((status = 200, body = [TestCard])))]
async fn test_cards() -> HttpResponse {
    let cards: Vec<TestCard> = TEST_CARDS
        .iter()
        .map(|(number, behaviour)| TestCard {
            number: number.to_string(),
            behaviour: behaviour.to_string(),
        })
        .collect();
    HttpResponse::Ok().json(cards)
}

/// A customer's balance, for that customer (or an operator); anyone else's is "not
/// found". A must-be-fresh read: always from the primary.
#[utoipa::path(get, path = "/accounts/{customer_id}", responses((status = 200, body = Account), (status = 401), (status = 404)))]
async fn get_account(
    reader: Reader,
    state: web::Data<State>,
    customer_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !reader.may_read(&customer_id) {
        return Err(ApiError::not_found("account_not_found", "no such account"));
    }
    Ok(HttpResponse::Ok().json(ledger::account(&state.db, &customer_id).await?))
}

/// Holds the amount on the customer's account.
#[utoipa::path(
    post,
    path = "/payments/authorize",
    request_body = AuthorizeRequest,
    responses(
        (status = 201, description = "authorized", body = Payment),
        (status = 200, description = "already authorized by an earlier call with the same order id", body = Payment),
        (status = 402, description = "payment_declined (details.decline_code)"),
        (status = 409, description = "authorization_in_progress, or payment_state (e.g. voided)"),
        (status = 422, description = "payment_mismatch"),
        (status = 429, description = "rate_limited, with Retry-After; nothing charged"),
        (status = 502, description = "provider_error; nothing charged"),
    )
)]
async fn authorize(
    _: Caller<OrderOnly>,
    state: web::Data<State>,
    correlation: CorrelationId,
    body: web::Json<AuthorizeRequest>,
) -> Result<HttpResponse, ApiError> {
    state.faults.inject("authorize").await?;
    let result = ledger::authorize(
        &state.db,
        &state.provider,
        &body,
        correlation.as_str(),
        state.opening_balance_minor,
    )
    .await;
    match &result {
        Ok((p, created)) => tracing::info!(order_id = %p.order_id, created, status = %p.status, "authorize"),
        Err(e) => tracing::info!(order_id = %body.order_id, outcome = %e, "authorize"),
    }
    let (payment, created) = result?;
    Ok(if created {
        HttpResponse::Created().json(payment)
    } else {
        HttpResponse::Ok().json(payment)
    })
}

#[utoipa::path(get, path = "/payments/{order_id}", responses((status = 200, body = Payment), (status = 404)))]
async fn get_payment(db: Tolerant, order_id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let payment = ledger::load(&*db, *order_id)
        .await?
        .ok_or(crate::PaymentError::NotFound)?;
    Ok(HttpResponse::Ok().json(payment))
}

#[utoipa::path(post, path = "/payments/{order_id}/capture", responses((status = 200, body = Payment), (status = 404), (status = 409)))]
async fn capture(
    _: Caller<OrderOnly>,
    state: web::Data<State>,
    order_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state.faults.inject("capture").await?;
    Ok(HttpResponse::Ok().json(ledger::capture(&state.db, *order_id).await?))
}

/// Releases a hold. Safe before the authorize arrived: the late authorize then charges nothing.
#[utoipa::path(post, path = "/payments/{order_id}/void", responses((status = 200, body = Payment), (status = 409)))]
async fn void(
    _: Caller<OrderOnly>,
    state: web::Data<State>,
    correlation: CorrelationId,
    order_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state.faults.inject("void").await?;
    let payment = ledger::void(&state.db, *order_id, correlation.as_str()).await?;
    tracing::info!(order_id = %order_id, status = %payment.status, "void");
    Ok(HttpResponse::Ok().json(payment))
}

#[utoipa::path(post, path = "/payments/{order_id}/refund", responses((status = 200, body = Payment), (status = 404), (status = 409)))]
async fn refund(
    _: Caller<OrderOnly>,
    state: web::Data<State>,
    order_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state.faults.inject("refund").await?;
    Ok(HttpResponse::Ok().json(ledger::refund(&state.db, *order_id).await?))
}
