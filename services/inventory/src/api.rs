//! The inventory HTTP API.

use actix_web::{HttpResponse, web};
use platform_contracts::inventory::{
    Line, Product, ProductReservationMode, Reservation, ReservationMode, ReservationStatus, ReserveRequest,
    ReservedLine, RestockRequest, SettleResponse, Shortage,
};
use platform_db::reads::Tolerant;
use platform_http::{Admin, ApiError, Caller, IdempotencyKey, OrderOnly};
use platform_service::faults::Faults;
use platform_telemetry::CorrelationId;
use sea_orm::DatabaseConnection;
use utoipa::OpenApi;
use uuid::Uuid;

use crate::{batching::Reservations, stock};

#[derive(Clone)]
pub struct State {
    pub db: DatabaseConnection,
    /// Takes reservations: on the product's row, or in batches for a product in `batched`
    /// mode.
    pub reservations: Reservations,
    pub faults: Faults,
}

pub fn routes(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(web::Data::new(state))
        .route("/openapi.json", web::get().to(openapi))
        .route("/products", web::get().to(list_products))
        .route("/products/{sku}", web::get().to(get_product))
        .route("/reservations", web::post().to(reserve))
        .route("/reservations/{order_id}", web::get().to(get_reservation))
        .route("/reservations/{order_id}/release", web::post().to(release))
        .route("/reservations/{order_id}/commit", web::post().to(commit))
        .route("/reservations/{order_id}/return", web::post().to(return_stock))
        .route("/admin/products/{sku}/restock", web::post().to(restock))
        .route(
            "/admin/products/{sku}/reservation-mode",
            web::put().to(set_reservation_mode),
        );
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "inventory",
        description = "Catalog, stock and reservations. Every reservation operation is idempotent per order id."
    ),
    paths(
        list_products,
        get_product,
        reserve,
        get_reservation,
        release,
        commit,
        return_stock,
        restock,
        set_reservation_mode
    ),
    components(schemas(
        RestockRequest,
        Product,
        Line,
        ReserveRequest,
        Reservation,
        ReservedLine,
        Shortage,
        SettleResponse,
        ReservationStatus,
        ReservationMode,
        ProductReservationMode
    ))
)]
struct ApiDoc;

async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

#[utoipa::path(get, path = "/products", responses((status = 200, body = [Product])))]
async fn list_products(db: Tolerant) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(stock::list_products(&db).await?))
}

#[utoipa::path(get, path = "/products/{sku}", responses((status = 200, body = Product), (status = 404)))]
async fn get_product(db: Tolerant, sku: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(stock::get_product(&db, &sku).await?))
}

/// Reserves all lines or none.
#[utoipa::path(
    post,
    path = "/reservations",
    request_body = ReserveRequest,
    responses(
        (status = 201, description = "reserved", body = Reservation),
        (status = 200, description = "already reserved by an earlier call with the same order id", body = Reservation),
        (status = 409, description = "insufficient_stock (details name the lines) or reservation_closed"),
        (status = 422, description = "unknown_product or reservation_mismatch"),
    )
)]
async fn reserve(
    _: Caller<OrderOnly>,
    state: web::Data<State>,
    correlation: CorrelationId,
    body: web::Json<ReserveRequest>,
) -> Result<HttpResponse, ApiError> {
    state.faults.inject("reserve").await?;
    let (reservation, created) = state
        .reservations
        .reserve(body.order_id, &body.lines, correlation.as_str())
        .await?;
    tracing::info!(order_id = %body.order_id, created, "reservation");
    Ok(if created {
        HttpResponse::Created().json(reservation)
    } else {
        HttpResponse::Ok().json(reservation)
    })
}

#[utoipa::path(get, path = "/reservations/{order_id}", responses((status = 200, body = Reservation), (status = 404)))]
async fn get_reservation(db: Tolerant, order_id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let reservation = stock::load(&*db, *order_id)
        .await?
        .ok_or(crate::InventoryError::ReservationNotFound)?;
    Ok(HttpResponse::Ok().json(reservation))
}

/// Returns held stock. Idempotent; safe before the reserve arrived (it then blocks it).
#[utoipa::path(
    post,
    path = "/reservations/{order_id}/release",
    responses((status = 200, body = SettleResponse), (status = 409, description = "already_committed"))
)]
async fn release(
    _: Caller<OrderOnly>,
    state: web::Data<State>,
    correlation: CorrelationId,
    order_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state.faults.inject("release").await?;
    let status = stock::release(&state.db, *order_id, correlation.as_str()).await?;
    tracing::info!(order_id = %order_id, %status, "release");
    Ok(HttpResponse::Ok().json(SettleResponse {
        order_id: *order_id,
        status,
    }))
}

/// Puts a cancelled order's stock back on sale (committed or still reserved). Idempotent.
#[utoipa::path(
    post,
    path = "/reservations/{order_id}/return",
    responses((status = 200, body = SettleResponse), (status = 404), (status = 409, description = "reservation_closed"))
)]
async fn return_stock(
    _: Caller<OrderOnly>,
    state: web::Data<State>,
    order_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state.faults.inject("return").await?;
    let status = stock::return_stock(&state.db, *order_id).await?;
    tracing::info!(order_id = %order_id, %status, "return");
    Ok(HttpResponse::Ok().json(SettleResponse {
        order_id: *order_id,
        status,
    }))
}

/// Turns held stock into sold stock. Idempotent.
#[utoipa::path(
    post,
    path = "/reservations/{order_id}/commit",
    responses((status = 200, body = SettleResponse), (status = 404), (status = 409, description = "reservation_closed"))
)]
async fn commit(
    _: Caller<OrderOnly>,
    state: web::Data<State>,
    correlation: CorrelationId,
    order_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state.faults.inject("commit").await?;
    let status = stock::commit(&state.db, *order_id, correlation.as_str()).await?;
    tracing::info!(order_id = %order_id, %status, "commit");
    Ok(HttpResponse::Ok().json(SettleResponse {
        order_id: *order_id,
        status,
    }))
}

/// Operator action: add stock (e.g. before a flash-sale demo). Needs the admin token and an
/// Idempotency-Key: a retried restock adds nothing; the same key with another body is 422.
#[utoipa::path(
    post,
    path = "/admin/products/{sku}/restock",
    request_body = RestockRequest,
    params(("Idempotency-Key" = String, Header, description = "one unique value per restock")),
    responses(
        (status = 201, description = "added", body = Product),
        (status = 200, description = "a retry: nothing added again", body = Product),
        (status = 400), (status = 401), (status = 404), (status = 422)
    )
)]
async fn restock(
    _: Admin,
    state: web::Data<State>,
    correlation: CorrelationId,
    key: IdempotencyKey,
    sku: web::Path<String>,
    body: web::Json<RestockRequest>,
) -> Result<HttpResponse, ApiError> {
    let (product, added) =
        stock::restock(&state.db, key.as_str(), &sku, body.quantity, correlation.as_str()).await?;
    Ok(if added {
        HttpResponse::Created().json(product)
    } else {
        HttpResponse::Ok().json(product)
    })
}

/// Operator action: how a product's reservations take its stock, `row` (each its own
/// transaction) or `batched` (many per transaction, for a truly hot product; see
/// batching.rs). Setting the mode it already has changes nothing.
#[utoipa::path(
    put,
    path = "/admin/products/{sku}/reservation-mode",
    request_body = ProductReservationMode,
    responses(
        (status = 200, description = "set", body = ProductReservationMode),
        (status = 400, description = "the body names another product, or an unknown mode"),
        (status = 401), (status = 404)
    )
)]
async fn set_reservation_mode(
    _: Admin,
    state: web::Data<State>,
    sku: web::Path<String>,
    body: web::Json<ProductReservationMode>,
) -> Result<HttpResponse, ApiError> {
    if body.sku != *sku {
        return Err(crate::InventoryError::Invalid(format!(
            "the body names {} and the path {sku}",
            body.sku
        ))
        .into());
    }
    state.reservations.set_mode(&sku, body.mode).await?;
    Ok(HttpResponse::Ok().json(body.into_inner()))
}
