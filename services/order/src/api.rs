//! The order HTTP API. Handlers speak HTTP only: the checkout is in `checkout.rs`, the
//! orders in `orders.rs`, the undo in `compensation.rs`.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use platform_contracts::identity::{CUSTOMERS_PATH, Credentials, SESSIONS_PATH, SignedIn};
use platform_contracts::{
    order::{
        CancelRequest, Compensation, CompensationKind, CompensationStatus, LineInput, Links, Order,
        OrderLine, OrderStatus, OrderView, PlaceOrder, TimelineEntry,
    },
    outcomes,
};
use platform_db::reads::Tolerant;
use platform_http::{Admin, ApiError, Customer, CustomerKeys, IdempotencyKey, Reader};
use platform_telemetry::CorrelationId;
use serde::Deserialize;
use serde_json::Value;
use utoipa::OpenApi;
use uuid::Uuid;

use crate::{
    OrderError,
    cancel::{self, Cancelled},
    checkout::{self, Answer, Checkout},
    compensation,
    identity::{self, HashingSlots},
    orders,
};

pub fn routes(cfg: &mut web::ServiceConfig, state: Checkout, hashing: HashingSlots) {
    cfg.app_data(web::Data::new(state))
        .app_data(web::Data::new(hashing))
        .route("/openapi.json", web::get().to(openapi))
        .route(CUSTOMERS_PATH, web::post().to(register))
        .route(SESSIONS_PATH, web::post().to(sign_in))
        .route("/orders", web::post().to(place_order))
        .route("/orders", web::get().to(list_orders))
        .route(outcomes::OUTCOMES_PATH, web::post().to(order_outcomes))
        .route("/orders/{id}", web::get().to(get_order))
        .route("/orders/{id}/cancel", web::post().to(cancel_order))
        .route("/admin/orders/{id}/ship", web::post().to(ship_order))
        .route("/admin/orders/in-flight", web::get().to(in_flight))
        .route("/admin/compensations", web::get().to(list_compensations))
        .route(
            "/admin/compensations/{id}/retry",
            web::post().to(retry_compensation),
        );
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "order",
        description = "Checkout and order lifecycle. POST /orders requires an Idempotency-Key header."
    ),
    paths(
        register,
        sign_in,
        place_order,
        list_orders,
        get_order,
        cancel_order,
        ship_order,
        in_flight,
        list_compensations,
        retry_compensation
    ),
    components(schemas(
        Credentials,
        SignedIn,
        PlaceOrder,
        CancelRequest,
        LineInput,
        OrderView,
        Order,
        OrderStatus,
        OrderLine,
        TimelineEntry,
        Links,
        Compensation,
        CompensationKind,
        CompensationStatus
    ))
)]
struct ApiDoc;

async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// The answer with its `Location` (where the client polls an order still in progress).
fn respond(answer: Answer) -> HttpResponse {
    let mut res = HttpResponse::build(answer.status);
    if let Some(url) = answer.body["links"]["self"].as_str() {
        res.insert_header(("Location", url.to_string()));
    }
    // A replay says so: a client (or a person reading logs) can tell "this is the order you
    // placed before" from "a new order".
    if answer.replayed {
        res.insert_header(("Idempotent-Replayed", "true"));
    }
    res.json(answer.body)
}

/// Registers a customer (identity.rs) and signs them in.
#[utoipa::path(
    post,
    path = "/customers",
    request_body = Credentials,
    responses(
        (status = 201, description = "registered and signed in", body = SignedIn),
        (status = 400, description = "invalid customer id or password"),
        (status = 409, description = "customer_exists"),
        (status = 503, description = "sign_in_busy: every password-hashing slot stayed taken; retry after Retry-After"),
    )
)]
async fn register(
    state: web::Data<Checkout>,
    hashing: web::Data<HashingSlots>,
    keys: web::Data<CustomerKeys>,
    body: web::Json<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let signed_in = identity::register(&state.db, &hashing, &keys, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(signed_in))
}

/// Signs a customer in: the token to send as `Authorization: Bearer <token>`.
#[utoipa::path(
    post,
    path = "/sessions",
    request_body = Credentials,
    responses(
        (status = 200, description = "signed in", body = SignedIn),
        (status = 401, description = "invalid_credentials (the same for an unknown customer)"),
        (status = 503, description = "sign_in_busy: every password-hashing slot stayed taken; retry after Retry-After"),
    )
)]
async fn sign_in(
    state: web::Data<Checkout>,
    hashing: web::Data<HashingSlots>,
    keys: web::Data<CustomerKeys>,
    body: web::Json<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let signed_in = identity::sign_in(&state.db, &hashing, &keys, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(signed_in))
}

/// Places an order: reserve stock, authorize payment, confirm, before answering.
#[utoipa::path(
    post,
    path = "/orders",
    request_body = PlaceOrder,
    params(("Idempotency-Key" = String, Header, description = "one unique value per checkout attempt")),
    responses(
        (status = 201, description = "confirmed", body = OrderView),
        (status = 202, description = "accepted, outcome not known yet: poll the Location", body = OrderView),
        (status = 402, description = "rejected: payment declined", body = OrderView),
        (status = 409, description = "rejected (e.g. out_of_stock), or the same key is still in flight"),
        (status = 400, description = "invalid request or missing Idempotency-Key"),
        (status = 401, description = "not signed in: Authorization: Bearer <customer token>"),
        (status = 403, description = "forbidden_customer: the body names another customer"),
        (status = 422, description = "unknown product, or the key was used with another body"),
        (status = 503, description = "a critical dependency is down; nothing was ordered (Retry-After)"),
    )
)]
async fn place_order(
    state: web::Data<Checkout>,
    correlation: CorrelationId,
    key: IdempotencyKey,
    customer: Customer,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let body = identity::on_behalf_of(body.into_inner(), &customer)?;
    Ok(respond(state.place(&key.0, body, &correlation).await?))
}

/// The customer cancels a confirmed order that has not shipped: its stock goes back on sale
/// and its money back to the customer, through durable compensations (cancel.rs).
#[utoipa::path(
    post,
    path = "/orders/{id}/cancel",
    request_body = CancelRequest,
    params(("Idempotency-Key" = String, Header, description = "one unique value per cancel")),
    responses(
        (status = 200, description = "cancelled (Idempotent-Replayed: true when it already was)", body = OrderView),
        (status = 401, description = "not signed in"),
        (status = 404, description = "no such order of this customer's"),
        (status = 409, description = "not_cancellable (not confirmed) or already_shipped"),
    )
)]
async fn cancel_order(
    state: web::Data<Checkout>,
    _key: IdempotencyKey,
    customer: Customer,
    id: web::Path<Uuid>,
    body: Option<web::Json<CancelRequest>>,
) -> Result<HttpResponse, ApiError> {
    let reason = body.as_ref().and_then(|b| b.reason.as_deref());
    let cancelled = cancel::cancel(&state.db, &state.saga.compensations, customer.id(), *id, reason).await?;
    let (order, replayed) = match cancelled {
        Cancelled::Now(order) => (order, false),
        Cancelled::Already(order) => (order, true),
    };
    let view = checkout::view(&state.db, order).await?;
    let mut res = HttpResponse::Ok();
    if replayed {
        res.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(res.json(view))
}

/// Operator action: the order left the warehouse; it can no longer be cancelled.
#[utoipa::path(
    post,
    path = "/admin/orders/{id}/ship",
    responses((status = 200, body = OrderView), (status = 401), (status = 404), (status = 409, description = "not_shippable"))
)]
async fn ship_order(
    _: Admin,
    state: web::Data<Checkout>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let order = cancel::ship(&state.db, *id).await?;
    Ok(HttpResponse::Ok().json(checkout::view(&state.db, order).await?))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    customer: Option<String>,
}

/// The signed-in customer's latest orders (an operator names the customer). Tolerates lag:
/// with the shopper's consistency token, a just-placed order is always there (the replica
/// has replayed it, or the primary answers).
#[utoipa::path(
    get,
    path = "/orders",
    params(("customer" = Option<String>, Query, description = "an operator's choice; a customer may only name themselves")),
    responses((status = 200, body = [Order]), (status = 401), (status = 403, description = "forbidden_customer"))
)]
async fn list_orders(
    reader: Reader,
    db: Tolerant,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let customer = reader
        .scope(query.customer.as_deref())?
        .ok_or_else(|| OrderError::Invalid("customer: which customer's orders?".into()))?;
    let list = orders::list_for_customer(&*db, customer, 50).await?;
    Ok(HttpResponse::Ok().json(contract_orders(list)))
}

/// The order, its lines, its timeline and its compensations, for its customer (or an
/// operator). From the primary: it is how a client polls its checkout's outcome (202 →
/// poll the Location), token or not.
#[utoipa::path(get, path = "/orders/{id}", responses((status = 200, body = OrderView), (status = 401), (status = 404)))]
async fn get_order(
    reader: Reader,
    state: web::Data<Checkout>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let order = orders::load(&state.db, *id)
        .await?
        .filter(|o| reader.may_read(&o.customer_id))
        .ok_or(OrderError::NotFound)?;
    Ok(HttpResponse::Ok().json(checkout::view(&state.db, order).await?))
}

/// What became of these orders: asked by inventory before it returns the stock of a
/// reservation whose time ran out (the owner of the outcome decides, not a timer).
async fn order_outcomes(
    state: web::Data<Checkout>,
    body: web::Json<outcomes::OutcomesRequest>,
) -> Result<HttpResponse, ApiError> {
    let ids = &body.order_ids;
    if ids.len() > outcomes::MAX_OUTCOMES_PER_REQUEST {
        return Err(OrderError::Invalid(format!(
            "at most {} order ids per request",
            outcomes::MAX_OUTCOMES_PER_REQUEST
        ))
        .into());
    }
    let known: HashMap<Uuid, OrderStatus> = orders::statuses(&state.db, ids).await?.into_iter().collect();
    let outcomes = ids
        .iter()
        .map(|id| outcomes::OrderOutcome {
            order_id: *id,
            status: known.get(id).copied(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(outcomes::OutcomesResponse { outcomes }))
}

/// Orders not yet terminal, oldest first, with who owns the next step.
#[utoipa::path(get, path = "/admin/orders/in-flight", responses((status = 200, body = [Order]), (status = 401)))]
async fn in_flight(_: Admin, state: web::Data<Checkout>) -> Result<HttpResponse, ApiError> {
    let list = orders::list_in_flight(&state.db, 200).await?;
    Ok(HttpResponse::Ok().json(contract_orders(list)))
}

#[derive(Debug, Deserialize)]
struct CompensationQuery {
    status: Option<CompensationStatus>,
}

#[utoipa::path(
    get,
    path = "/admin/compensations",
    params(("status" = Option<String>, Query, description = "pending | done | parked")),
    responses((status = 200, body = [Compensation]), (status = 401))
)]
async fn list_compensations(
    _: Admin,
    state: web::Data<Checkout>,
    query: web::Query<CompensationQuery>,
) -> Result<HttpResponse, ApiError> {
    let list = compensation::list(&state.db, query.status).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Operator action: retry a parked compensation.
#[utoipa::path(
    post,
    path = "/admin/compensations/{id}/retry",
    responses((status = 200, body = Compensation), (status = 401), (status = 404))
)]
async fn retry_compensation(
    _: Admin,
    state: web::Data<Checkout>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let compensation = compensation::retry_parked(&state.db, *id)
        .await?
        .ok_or(OrderError::CompensationNotParked)?;
    tracing::warn!(compensation = %compensation.id, order_id = %compensation.order_id, "operator retried a parked compensation");
    state.saga.compensations.wake();
    Ok(HttpResponse::Ok().json(compensation))
}

fn contract_orders(list: Vec<orders::Order>) -> Vec<Order> {
    list.into_iter().map(Order::from).collect()
}
