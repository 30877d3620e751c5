//! The customer's side of an order: cancel it until it ships.
//!
//! The incident this is built against (../shared/LESSONS.md): a refund answered 429, was
//! dead-lettered, nobody watched the queue, and customers were charged for orders they had
//! cancelled. Here the order service, the owner of the outcome, decides the cancel in one
//! transaction, and the undo is the same durable machinery as every other undo:
//!
//! 1. lock the order; only a `confirmed` order that has not shipped can be cancelled;
//! 2. in one transaction: the order becomes `cancelled` (reason kept, on its timeline), two
//!    compensations are recorded (`return_stock`, `refund_payment`) and `order.cancelled`
//!    (with `after_confirmation`) goes to the outbox;
//! 3. the compensation worker returns the stock and refunds the money (voids it if not yet
//!    captured): retried with backoff on 429 and 5xx, rate-limited, parked with an alert
//!    after its attempts, retried by an operator. Never dropped.
//! 4. email tells the customer, analytics counts the cancellation (from the event).
//!
//! A second cancel (a retry, a double click, with the same Idempotency-Key or another) finds
//! the order already cancelled by its customer and answers it as it is: the compensations
//! are one row per order and kind, so the money comes back once.

use platform_contracts::{
    Envelope, OrderCancelled,
    events::PRODUCER,
    order::{CompensationKind, OrderStatus},
};
use platform_messaging::outbox;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, FromQueryResult, TransactionTrait, raw_sql,
};
use uuid::Uuid;

use crate::{
    OrderError,
    compensation::Compensations,
    orders::{self, Order},
};

/// The reason code of a customer's cancel (the order's `reason_code`).
pub const CANCELLED_BY_CUSTOMER: &str = "cancelled_by_customer";
const MAX_REASON: usize = 500;

/// What a cancel request found.
pub enum Cancelled {
    /// Cancelled now.
    Now(Order),
    /// Cancelled by its customer before: nothing is done again.
    Already(Order),
}

#[derive(FromQueryResult)]
struct Lock {
    customer_id: String,
    status: OrderStatus,
    reason_code: Option<String>,
    shipped: bool,
}

/// Locks the order for the rest of `txn`: a cancel and a ship (or two cancels) take turns,
/// and exactly one wins.
async fn lock(txn: &DatabaseTransaction, id: Uuid) -> Result<Lock, OrderError> {
    Lock::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT customer_id, status, reason_code, shipped_at IS NOT NULL AS shipped FROM orders WHERE id = {id} FOR UPDATE"#
    ))
    .one(txn)
    .await?
    .ok_or(OrderError::NotFound)
}

/// `customer` cancels order `id`. Another customer's order is "not found": the answer
/// does not even confirm that it exists.
pub async fn cancel(
    db: &DatabaseConnection,
    compensations: &Compensations,
    customer: &str,
    id: Uuid,
    reason: Option<&str>,
) -> Result<Cancelled, OrderError> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > MAX_REASON) {
        return Err(OrderError::Invalid(format!(
            "reason: at most {MAX_REASON} characters"
        )));
    }
    let reason = reason.unwrap_or("cancelled at the customer's request");
    let txn = db.begin().await?;
    let lock = lock(&txn, id).await?;
    if lock.customer_id != customer {
        return Err(OrderError::NotFound);
    }
    match lock.status {
        OrderStatus::Cancelled if lock.reason_code.as_deref() == Some(CANCELLED_BY_CUSTOMER) => {
            txn.commit().await?;
            let order = orders::load(db, id).await?.ok_or(OrderError::NotFound)?;
            return Ok(Cancelled::Already(order));
        }
        OrderStatus::Confirmed if lock.shipped => return Err(OrderError::AlreadyShipped),
        OrderStatus::Confirmed => {}
        // Not decided yet (the owner finishes it by its deadline), or ended otherwise: there
        // is nothing of the customer's to give back.
        status @ (OrderStatus::Pending
        | OrderStatus::StockReserved
        | OrderStatus::Rejected
        | OrderStatus::Cancelled) => return Err(OrderError::NotCancellable { status }),
    }
    let change = orders::Change {
        reason_code: Some(CANCELLED_BY_CUSTOMER),
        reason: Some(reason),
        ..Default::default()
    };
    let entry = orders::Entry {
        step: OrderStatus::Cancelled.as_str(),
        outcome: CANCELLED_BY_CUSTOMER,
        detail: Some(reason),
        actor: "customer",
    };
    let order = orders::transition(
        &txn,
        id,
        OrderStatus::Confirmed,
        OrderStatus::Cancelled,
        change,
        &[entry],
    )
    .await?
    .ok_or_else(|| OrderError::Internal("the locked order moved".into()))?;
    for kind in [CompensationKind::ReturnStock, CompensationKind::RefundPayment] {
        compensations
            .record(&txn, id, kind, &order.correlation_id)
            .await?;
    }
    let event = OrderCancelled {
        order_id: id,
        customer_id: order.customer_id.clone(),
        reason_code: CANCELLED_BY_CUSTOMER.into(),
        reason: reason.into(),
        after_confirmation: true,
    };
    outbox::enqueue(
        &txn,
        &Envelope::new(&event, PRODUCER, &order.correlation_id, None),
    )
    .await?;
    txn.commit().await?;
    compensations.wake();
    tracing::info!(order_id = %id, correlation_id = %order.correlation_id, "order cancelled by its customer");
    metrics::counter!("orders_cancelled_by_customer_total").increment(1);
    Ok(Cancelled::Now(order))
}

/// The operator's "it left the warehouse": from now on the order cannot be cancelled.
/// Idempotent.
pub async fn ship(db: &DatabaseConnection, id: Uuid) -> Result<Order, OrderError> {
    let txn = db.begin().await?;
    let lock = lock(&txn, id).await?;
    match lock.status {
        OrderStatus::Confirmed if lock.shipped => {}
        OrderStatus::Confirmed => {
            txn.execute_raw(raw_sql!(
                Postgres,
                r#"UPDATE orders SET shipped_at = now(), updated_at = now() WHERE id = {id}"#
            ))
            .await?;
            let correlation = orders::load(&txn, id)
                .await?
                .map(|o| o.correlation_id.clone())
                .unwrap_or_default();
            orders::record(&txn, id, "shipped", "shipped", None, "operator", &correlation).await?;
        }
        status => return Err(OrderError::NotShippable { status }),
    }
    txn.commit().await?;
    orders::load(db, id).await?.ok_or(OrderError::NotFound)
}
