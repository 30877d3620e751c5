//! The checkout: what happens between the shopper's "Place order" and the answer.
//!
//! Read it as the lesson it teaches, top to bottom:
//! 1. **Validate** the request: a bad one is refused before anything is written.
//! 2. **Shed load** when the critical path is saturated, and refuse at once when a
//!    dependency is known to be down (its circuit is open): a fast 503 with Retry-After
//!    beats a pile of timeouts that every client then retries.
//! 3. **Reject unknown products** before anything is written (a cached catalog).
//! 4. **Claim the Idempotency-Key and create the order in one transaction**: the key and the
//!    order exist together or not at all; a retried request replays the first answer.
//! 5. **Run the saga** (reserve, authorize, confirm) inside the request, so the shopper
//!    hears the outcome; whatever the saga cannot finish now, the reconciler finishes.
//! 6. **Store the answer with the key**, so a retry gets exactly this answer.
//!
//! The HTTP handler (`api.rs`) only parses the request and writes this answer.

use std::{collections::BTreeSet, sync::Arc};

use actix_web::http::StatusCode;
use chrono::Utc;
use platform_contracts::{
    error::ErrorDetail,
    order::{self as contract, Links, OrderStatus, OrderView, PlaceOrder},
    payment::{CARD_NUMBER_RULE, normalize_card_number},
};
use platform_telemetry::CorrelationId;
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::Value;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::{
    OrderError, Settings,
    catalog::Catalog,
    idempotency::{self, Claim, Taken},
    orders::{self, Order},
    saga::Saga,
};

/// What a checkout needs. Cheap to clone.
#[derive(Clone)]
pub struct Checkout {
    pub db: DatabaseConnection,
    pub saga: Saga,
    pub catalog: Catalog,
    /// Permits for checkouts in progress (backpressure at the edge).
    pub in_flight: Arc<Semaphore>,
    pub settings: Settings,
}

/// The answer to a checkout request: what the client is told, and what a retry with the
/// same key is told again.
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    /// The stored answer to an earlier request with the same key (`Idempotent-Replayed`).
    pub replayed: bool,
}

const MAX_LINES: usize = 20;
const MAX_QUANTITY: i64 = 100;

/// A request that passed validation.
struct Validated {
    customer_id: String,
    /// `(sku, quantity)`, each SKU once.
    lines: Vec<(String, i32)>,
    card_number: String,
}

impl Checkout {
    /// Places an order (steps 1 to 6 above). `body` is the request as it came, for the
    /// key's fingerprint.
    pub async fn place(
        &self,
        key: &str,
        body: Value,
        correlation: &CorrelationId,
    ) -> Result<Answer, OrderError> {
        let fingerprint = idempotency::fingerprint(&body);
        let request: PlaceOrder =
            serde_json::from_value(body).map_err(|e| OrderError::InvalidJson(e.to_string()))?;
        let order = validate(request)?;

        // Bounded concurrency: when the critical path is saturated (slow database, slow
        // dependency), say so at once rather than letting requests queue without bound
        // until every one of them times out and is retried.
        let customer = order.customer_id.as_str();
        let Ok(_permit) = self.in_flight.clone().try_acquire_owned() else {
            metrics::counter!("checkout_shed_total", "reason" => "saturated").increment(1);
            let refusal = OrderError::DependencyUnavailable {
                dependency: "checkout capacity",
                retry_after_secs: 1,
            };
            return self.known_key_or(customer, key, &fingerprint, refusal).await;
        };
        // Everything below touches inventory and payment. If either is known to be down,
        // queueing checkouts behind it only turns an outage into timeouts and retries.
        for dependency in [&self.saga.inventory, &self.saga.payment] {
            if !dependency.is_available() {
                let refusal = OrderError::DependencyUnavailable {
                    dependency: dependency.name,
                    retry_after_secs: 2,
                };
                return self.known_key_or(customer, key, &fingerprint, refusal).await;
            }
        }
        let skus: Vec<&str> = order.lines.iter().map(|(s, _)| s.as_str()).collect();
        let unknown = self.catalog.unknown(&skus, correlation).await.map_err(|_| {
            OrderError::DependencyUnavailable {
                dependency: "inventory",
                retry_after_secs: 2,
            }
        })?;
        if !unknown.is_empty() {
            return Err(OrderError::UnknownProducts(unknown));
        }

        let settings = &self.settings;
        let new = orders::NewOrder {
            id: Uuid::now_v7(),
            customer_id: customer,
            card: &order.card_number,
            correlation_id: correlation.as_str(),
            lines: &order.lines,
            grace: settings.checkout_grace,
            deadline: Utc::now() + settings.order_deadline,
        };
        // The key and the order in one transaction: either both exist or neither does.
        let txn = self.db.begin().await?;
        let claim = idempotency::claim(
            &txn,
            customer,
            key,
            &fingerprint,
            new.id,
            settings.idempotency_retention,
            settings.checkout_grace * 2,
        )
        .await?;
        let created = match claim {
            Claim::New => {
                let created = orders::create(&txn, &new).await?;
                txn.commit().await?;
                created
            }
            Claim::Taken(taken) => {
                // Nothing of ours to keep.
                txn.rollback().await?;
                return self.answer_taken_key(customer, key, taken).await;
            }
        };
        tracing::info!(order_id = %created.id, customer_id = %customer, "order created");
        // The lines as the order has them (sorted by SKU), not priced yet: the saga starts
        // from what was just written instead of reading it back.
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
        let placed = self.saga.drive(created, Some(lines), "checkout").await?;
        let answer = answer(&self.db, placed).await?;
        idempotency::complete(&self.db, customer, key, answer.status.as_u16(), &answer.body).await?;
        Ok(answer)
    }

    /// Before refusing a request (`refusal`: saturated, or a dependency's circuit open): the
    /// answer its key already has, if it has one. A retry of an order that exists must hear
    /// about that order; told "503, nothing was ordered", the shopper orders again with a new
    /// key, and pays twice. Only refused requests pay for this read.
    async fn known_key_or(
        &self,
        customer: &str,
        key: &str,
        fingerprint: &str,
        refusal: OrderError,
    ) -> Result<Answer, OrderError> {
        let stale_after = self.settings.checkout_grace * 2;
        match idempotency::lookup(&self.db, customer, key, fingerprint, stale_after).await {
            Ok(Some(taken)) => self.answer_taken_key(customer, key, taken).await,
            Ok(None) => Err(refusal),
            // The database is the trouble: the refusal is the honest answer.
            Err(_) => Err(refusal),
        }
    }

    /// The answer to a request whose key another request has already claimed.
    async fn answer_taken_key(&self, customer: &str, key: &str, taken: Taken) -> Result<Answer, OrderError> {
        match taken {
            Taken::Replay { status, body } => Ok(Answer {
                status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                body,
                replayed: true,
            }),
            Taken::Mismatch => Err(OrderError::IdempotencyKeyReused),
            // The first request's process died after creating the order: answer with where
            // the order stands now (the reconciler owns it), instead of refusing forever.
            Taken::InFlight {
                order_id: Some(id),
                stale: true,
            } => {
                let order = orders::load(&self.db, id).await?.ok_or(OrderError::NotFound)?;
                let answer = answer(&self.db, order).await?;
                if answer.status != StatusCode::ACCEPTED {
                    idempotency::complete(&self.db, customer, key, answer.status.as_u16(), &answer.body)
                        .await?;
                }
                Ok(Answer {
                    replayed: true,
                    ..answer
                })
            }
            Taken::InFlight { order_id, .. } => Err(OrderError::RequestInFlight { order_id }),
        }
    }
}

fn validate(body: PlaceOrder) -> Result<Validated, OrderError> {
    let invalid = |m: String| Err(OrderError::Invalid(m));
    crate::identity::valid_customer_id(&body.customer_id)?;
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
    let Some(card_number) = normalize_card_number(&body.card_number) else {
        return invalid(CARD_NUMBER_RULE.into());
    };
    Ok(Validated {
        customer_id: body.customer_id,
        lines,
        card_number,
    })
}

/// The order as clients see it, with its lines, timeline and compensations.
pub async fn view(db: &DatabaseConnection, order: Order) -> Result<OrderView, OrderError> {
    let (lines, timeline, compensations) = orders::details(db, order.id).await?;
    let error = matches!(order.status, OrderStatus::Rejected | OrderStatus::Cancelled).then(|| ErrorDetail {
        code: order.reason_code.clone().unwrap_or_default(),
        message: order.reason.clone().unwrap_or_default(),
        details: None,
    });
    let links = Links {
        self_url: contract::order_path(order.id),
    };
    Ok(OrderView {
        order: order.into(),
        lines,
        timeline,
        compensations,
        error,
        links,
    })
}

/// The status code that tells the client where its checkout stands.
fn status_of(order: &Order) -> StatusCode {
    match (order.status, order.reason_code.as_deref()) {
        (OrderStatus::Confirmed, _) => StatusCode::CREATED,
        (OrderStatus::Pending | OrderStatus::StockReserved, _) => StatusCode::ACCEPTED,
        (OrderStatus::Rejected, Some("payment_declined")) => StatusCode::PAYMENT_REQUIRED,
        (OrderStatus::Rejected | OrderStatus::Cancelled, _) => StatusCode::CONFLICT,
    }
}

async fn answer(db: &DatabaseConnection, order: Order) -> Result<Answer, OrderError> {
    let status = status_of(&order);
    let body =
        serde_json::to_value(view(db, order).await?).map_err(|e| OrderError::Internal(e.to_string()))?;
    Ok(Answer {
        status,
        body,
        replayed: false,
    })
}
