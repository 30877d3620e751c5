//! The order HTTP API.

use std::collections::BTreeSet;

use actix_web::{HttpResponse, http::StatusCode, web};
use chrono::Utc;
use platform_contracts::outcomes;
use platform_http::{Admin, ApiError, IdempotencyKey};
use platform_telemetry::CorrelationId;
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::{
    OrderError, Settings,
    catalog::Catalog,
    compensation::{self, Compensation},
    idempotency::{self, Claim, Taken},
    orders::{self, Order, OrderLine, TimelineEntry},
    saga::Saga,
};

#[derive(Clone)]
pub struct State {
    pub db: DatabaseConnection,
    pub saga: Saga,
    pub catalog: Catalog,
    /// Permits for checkouts in progress (backpressure at the edge).
    pub in_flight: std::sync::Arc<tokio::sync::Semaphore>,
    pub settings: Settings,
}

pub fn routes(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(web::Data::new(state))
        .route("/openapi.json", web::get().to(openapi))
        .route("/orders", web::post().to(place_order))
        .route("/orders", web::get().to(list_orders))
        .route(outcomes::OUTCOMES_PATH, web::post().to(order_outcomes))
        .route("/orders/{id}", web::get().to(get_order))
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
        place_order,
        list_orders,
        get_order,
        in_flight,
        list_compensations,
        retry_compensation
    ),
    components(schemas(
        PlaceOrder,
        LineInput,
        OrderView,
        Order,
        OrderLine,
        TimelineEntry,
        Compensation
    ))
)]
struct ApiDoc;

async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PlaceOrder {
    pub customer_id: String,
    pub lines: Vec<LineInput>,
    /// A test card number of the simulated provider (see payment's `/test-cards`).
    pub card_number: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LineInput {
    pub sku: String,
    /// Read as a wide integer so that an absurd value gets a clear range error.
    pub quantity: i64,
}

const MAX_LINES: usize = 20;
const MAX_QUANTITY: i64 = 100;

struct Validated {
    customer_id: String,
    lines: Vec<(String, i32)>,
    card_number: String,
}

fn validate(body: PlaceOrder) -> Result<Validated, OrderError> {
    let invalid = |m: String| Err(OrderError::Invalid(m));
    let customer_ok = (1..=64).contains(&body.customer_id.len())
        && body
            .customer_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
    if !customer_ok {
        return invalid("customer_id must be 1 to 64 letters, digits or - _ . @".into());
    }
    if body.lines.is_empty() || body.lines.len() > MAX_LINES {
        return invalid(format!("an order needs 1 to {MAX_LINES} lines"));
    }
    let mut seen = BTreeSet::new();
    let mut lines = Vec::with_capacity(body.lines.len());
    for line in body.lines {
        if !(1..=64).contains(&line.sku.len()) {
            return invalid("every line needs a sku of 1 to 64 characters".into());
        }
        if !(1..=MAX_QUANTITY).contains(&line.quantity) {
            return invalid(format!(
                "quantity for {} is {}; it must be between 1 and {MAX_QUANTITY}",
                line.sku, line.quantity
            ));
        }
        if !seen.insert(line.sku.clone()) {
            return invalid(format!("{} appears in more than one line", line.sku));
        }
        lines.push((line.sku, line.quantity as i32));
    }
    let card_number: String = body
        .card_number
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    if !(12..=19).contains(&card_number.len()) || !card_number.bytes().all(|b| b.is_ascii_digit()) {
        return invalid("card_number must be 12 to 19 digits".into());
    }
    Ok(Validated {
        customer_id: body.customer_id,
        lines,
        card_number,
    })
}

/// An order as clients see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    #[serde(flatten)]
    pub order: Order,
    pub lines: Vec<OrderLine>,
    pub timeline: Vec<TimelineEntry>,
    pub compensations: Vec<Compensation>,
    /// Present when the order was rejected or cancelled: why, in the shared error shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    pub links: Value,
}

async fn view(db: &DatabaseConnection, order: Order) -> Result<OrderView, OrderError> {
    let (lines, timeline, compensations) = orders::details(db, order.id).await?;
    let error = matches!(order.status.as_str(), "rejected" | "cancelled")
        .then(|| json!({ "code": order.reason_code, "message": order.reason }));
    let links = json!({ "self": format!("/orders/{}", order.id) });
    Ok(OrderView {
        order,
        lines,
        timeline,
        compensations,
        error,
        links,
    })
}

/// The status code that tells the client where its checkout stands.
fn status_of(order: &Order) -> StatusCode {
    match (order.status.as_str(), order.reason_code.as_deref()) {
        ("confirmed", _) => StatusCode::CREATED,
        ("pending" | "stock_reserved", _) => StatusCode::ACCEPTED,
        ("rejected", Some("payment_declined")) => StatusCode::PAYMENT_REQUIRED,
        _ => StatusCode::CONFLICT,
    }
}

fn respond(status: StatusCode, body: &Value) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    if let Some(url) = body["links"]["self"].as_str() {
        res.insert_header(("Location", url.to_string()));
    }
    res.json(body)
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
        (status = 422, description = "unknown product, or the key was used with another body"),
        (status = 503, description = "a critical dependency is down; nothing was ordered (Retry-After)"),
    )
)]
async fn place_order(
    state: web::Data<State>,
    correlation: CorrelationId,
    key: IdempotencyKey,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let key = key.0;
    let raw = body.into_inner();
    let fingerprint = idempotency::fingerprint(&raw);
    let parsed: PlaceOrder = serde_json::from_value(raw)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("invalid order: {e}")))?;
    let order = validate(parsed)?;

    // Bounded concurrency: when the critical path is saturated (slow database, slow
    // dependency), say so at once with 503 + Retry-After rather than letting requests queue
    // without bound until every one of them times out and is retried.
    let Ok(_permit) = state.in_flight.clone().try_acquire_owned() else {
        metrics::counter!("checkout_shed_total", "reason" => "saturated").increment(1);
        return Err(OrderError::DependencyUnavailable {
            dependency: "checkout capacity",
            retry_after_secs: 1,
        }
        .into());
    };

    // Everything below touches inventory and payment. If either is known to be down (its
    // circuit is open), say so at once: queueing checkouts behind a dead dependency only
    // turns an outage into a pile of timeouts and retries.
    for dependency in [&state.saga.inventory, &state.saga.payment] {
        if !dependency.is_available() {
            return Err(OrderError::DependencyUnavailable {
                dependency: dependency.name,
                retry_after_secs: 2,
            }
            .into());
        }
    }
    let skus: Vec<&str> = order.lines.iter().map(|(s, _)| s.as_str()).collect();
    let unknown =
        state
            .catalog
            .unknown(&skus, &correlation)
            .await
            .map_err(|_| OrderError::DependencyUnavailable {
                dependency: "inventory",
                retry_after_secs: 2,
            })?;
    if !unknown.is_empty() {
        return Err(OrderError::UnknownProducts(unknown).into());
    }

    let settings = &state.settings;
    let customer = order.customer_id.clone();
    let new = orders::NewOrder {
        id: Uuid::now_v7(),
        customer_id: &customer,
        card: &order.card_number,
        correlation_id: correlation.as_str(),
        lines: &order.lines,
        grace: settings.checkout_grace,
        deadline: Utc::now() + settings.order_deadline,
    };
    // The key and the order in one transaction: either both exist or neither does.
    let txn = state.db.begin().await.map_err(OrderError::from)?;
    let claim = idempotency::claim(
        &txn,
        &customer,
        &key,
        &fingerprint,
        new.id,
        settings.idempotency_retention,
        settings.checkout_grace * 2,
    )
    .await
    .map_err(OrderError::from)?;
    let created = match claim {
        Claim::New => {
            let created = orders::create(&txn, &new).await.map_err(OrderError::from)?;
            txn.commit().await.map_err(OrderError::from)?;
            created
        }
        Claim::Taken(taken) => {
            // Nothing of ours to keep.
            txn.rollback().await.map_err(OrderError::from)?;
            return answer_taken_key(&state, &customer, &key, taken).await;
        }
    };
    tracing::info!(order_id = %created.id, customer_id = %customer, "order created");
    // The lines as the order has them (sorted by SKU), not priced yet: the saga starts from
    // what was just written instead of reading it back.
    let mut lines: Vec<orders::OrderLine> = order
        .lines
        .iter()
        .map(|(sku, quantity)| orders::OrderLine {
            sku: sku.clone(),
            quantity: *quantity,
            unit_price_minor: None,
        })
        .collect();
    lines.sort_by(|a, b| a.sku.cmp(&b.sku));
    let placed = state
        .saga
        .drive(created, Some(lines), "checkout")
        .await
        .map_err(OrderError::from)?;
    let status = status_of(&placed);
    let body = serde_json::to_value(view(&state.db, placed).await?).map_err(ApiError::internal)?;
    idempotency::complete(&state.db, &customer, &key, status.as_u16(), &body)
        .await
        .map_err(OrderError::from)?;
    Ok(respond(status, &body))
}

/// The answer to a request whose key another request has already claimed.
async fn answer_taken_key(
    state: &State,
    customer: &str,
    key: &str,
    taken: Taken,
) -> Result<HttpResponse, ApiError> {
    match taken {
        Taken::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            Ok(respond(status, &body))
        }
        Taken::Mismatch => Err(OrderError::IdempotencyKeyReused.into()),
        // The first request's process died after creating the order: answer with where the
        // order stands now (the reconciler owns it), instead of refusing forever.
        Taken::InFlight {
            order_id: Some(id),
            stale: true,
        } => {
            let order = orders::load(&state.db, id)
                .await
                .map_err(OrderError::from)?
                .ok_or(OrderError::NotFound)?;
            let status = status_of(&order);
            let body = serde_json::to_value(view(&state.db, order).await?).map_err(ApiError::internal)?;
            if status != StatusCode::ACCEPTED {
                idempotency::complete(&state.db, customer, key, status.as_u16(), &body)
                    .await
                    .map_err(OrderError::from)?;
            }
            Ok(respond(status, &body))
        }
        Taken::InFlight { order_id, .. } => Err(OrderError::RequestInFlight { order_id }.into()),
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    customer: String,
}

/// A customer's latest orders (read from the primary: a just-placed order is always there).
#[utoipa::path(get, path = "/orders", params(("customer" = String, Query)), responses((status = 200, body = [Order])))]
async fn list_orders(
    state: web::Data<State>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let list = orders::list_for_customer(&state.db, &query.customer, 50)
        .await
        .map_err(OrderError::from)?;
    Ok(HttpResponse::Ok().json(list))
}

/// The order, its lines, its timeline and its compensations.
#[utoipa::path(get, path = "/orders/{id}", responses((status = 200, body = OrderView), (status = 404)))]
async fn get_order(state: web::Data<State>, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let order = orders::load(&state.db, *id)
        .await
        .map_err(OrderError::from)?
        .ok_or(OrderError::NotFound)?;
    Ok(HttpResponse::Ok().json(view(&state.db, order).await?))
}

/// What became of these orders: asked by inventory before it returns the stock of a
/// reservation whose time ran out (the owner of the outcome decides, not a timer).
async fn order_outcomes(
    state: web::Data<State>,
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
    let known: std::collections::HashMap<Uuid, String> = orders::statuses(&state.db, ids)
        .await
        .map_err(OrderError::from)?
        .into_iter()
        .collect();
    let outcomes = ids
        .iter()
        .map(|id| outcomes::OrderOutcome {
            order_id: *id,
            status: known.get(id).map_or(outcomes::OrderStatus::Unknown, |s| {
                outcomes::OrderStatus::from_column(s)
            }),
        })
        .collect();
    Ok(HttpResponse::Ok().json(outcomes::OutcomesResponse { outcomes }))
}

/// Orders not yet terminal, oldest first, with who owns the next step.
#[utoipa::path(get, path = "/admin/orders/in-flight", responses((status = 200, body = [Order]), (status = 401)))]
async fn in_flight(_: Admin, state: web::Data<State>) -> Result<HttpResponse, ApiError> {
    let list = orders::list_in_flight(&state.db, 200)
        .await
        .map_err(OrderError::from)?;
    Ok(HttpResponse::Ok().json(list))
}

#[derive(Debug, Deserialize)]
struct CompensationQuery {
    status: Option<String>,
}

#[utoipa::path(
    get,
    path = "/admin/compensations",
    params(("status" = Option<String>, Query, description = "pending | done | parked")),
    responses((status = 200, body = [Compensation]), (status = 401))
)]
async fn list_compensations(
    _: Admin,
    state: web::Data<State>,
    query: web::Query<CompensationQuery>,
) -> Result<HttpResponse, ApiError> {
    let list = compensation::list(&state.db, query.status.as_deref())
        .await
        .map_err(OrderError::from)?;
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
    state: web::Data<State>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let compensation = compensation::retry_parked(&state.db, *id)
        .await
        .map_err(OrderError::from)?
        .ok_or(OrderError::CompensationNotParked)?;
    tracing::warn!(compensation = %compensation.id, order_id = %compensation.order_id, "operator retried a parked compensation");
    orders::record(
        &state.db,
        compensation.order_id,
        &compensation.kind,
        "retried_by_operator",
        None,
        "operator",
        &compensation.correlation_id,
    )
    .await
    .map_err(OrderError::from)?;
    state.saga.compensations.wake();
    Ok(HttpResponse::Ok().json(compensation))
}
