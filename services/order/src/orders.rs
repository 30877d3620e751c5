//! The order record, its lines and its timeline.
//!
//! Status changes are conditional updates (`WHERE status = <expected>`): the checkout
//! request and the reconciler may work on the same order at the same moment, and exactly
//! one of them wins each transition. The loser sees it changed and re-reads.

use std::ops::Deref;

use chrono::{DateTime, Utc};
pub use platform_contracts::order::OrderLine;
use platform_contracts::{
    inventory::ReservedLine,
    order::{self as contract, Compensation, OrderStatus, TimelineEntry},
};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult, raw_sql};
use serde::Serialize;
use uuid::Uuid;

use crate::OrderError;

/// An order as stored: what clients see ([`contract::Order`]) and the card it is paid with,
/// which the reconciler needs to retry an authorization and no client is ever shown.
#[derive(Debug, Clone, FromQueryResult)]
pub struct Order {
    #[sea_orm(nested)]
    pub view: contract::Order,
    pub payment_method: String,
}

/// An order reads as the order clients see (`order.status`, `order.id`); only the saga
/// reaches past it, for the card.
impl Deref for Order {
    type Target = contract::Order;

    fn deref(&self) -> &contract::Order {
        &self.view
    }
}

impl From<Order> for contract::Order {
    fn from(order: Order) -> Self {
        order.view
    }
}

/// The columns of an [`Order`]. The total is stored as `total_amount_minor` (an amount, beside
/// its `currency`) and still answered as `total_minor`, the API's field: a column rename is
/// not an API change (docs/online-migration.md).
const ORDER_COLUMNS: &str = "id, customer_id, status, reason_code, reason, total_amount_minor AS total_minor, \
     currency::text AS currency, payment_method, correlation_id, attempts, next_attempt_at, deadline_at, \
     created_at, updated_at";

pub async fn load(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Order>, OrderError> {
    Order::find_by_statement(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1"),
        [id.into()],
    ))
    .one(db)
    .await
    .map_err(Into::into)
}

/// The status of each of these orders that exists, as `(id, status)`: what a service holding
/// something on an order's behalf asks before letting go (`contracts::outcomes`). Read from
/// the primary: a stale "not confirmed" would release the stock of a confirmed order.
pub async fn statuses(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, OrderStatus)>, OrderError> {
    #[derive(FromQueryResult)]
    struct Row {
        id: Uuid,
        status: OrderStatus,
    }
    let rows = Row::find_by_statement(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "SELECT id, status FROM orders WHERE id = ANY($1)",
        [ids.to_vec().into()],
    ))
    .all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.status)).collect())
}

/// A customer's latest orders. A tolerant read (the handler picks the pool): a shopper who
/// just placed an order sends the consistency token of that checkout, so a lagging replica
/// cannot make it "disappear"; everyone else may see the list a moment late.
pub async fn list_for_customer(
    db: &impl ConnectionTrait,
    customer_id: &str,
    limit: u64,
) -> Result<Vec<Order>, OrderError> {
    Ok(Order::find_by_statement(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT $2"
        ),
        [customer_id.into(), (limit as i64).into()],
    ))
    .all(db)
    .await?)
}

/// Orders that are not terminal, oldest first: the ops view of "who is working on what".
pub async fn list_in_flight(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<Order>, OrderError> {
    Ok(Order::find_by_statement(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE status IN ('pending', 'stock_reserved') \
             ORDER BY created_at LIMIT $1"
        ),
        [(limit as i64).into()],
    ))
    .all(db)
    .await?)
}

pub async fn lines(db: &impl ConnectionTrait, id: Uuid) -> Result<Vec<OrderLine>, OrderError> {
    Ok(OrderLine::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT sku, quantity, unit_price_minor FROM order_lines WHERE order_id = {id} ORDER BY sku"#
    ))
    .all(db)
    .await?)
}

/// Appends to the order's timeline; called in the same transaction as the change it records.
pub async fn record(
    db: &impl ConnectionTrait,
    id: Uuid,
    step: &str,
    outcome: &str,
    detail: Option<&str>,
    actor: &str,
    correlation_id: &str,
) -> Result<(), OrderError> {
    db.execute_raw(raw_sql!(
        Postgres,
        r#"INSERT INTO order_timeline (order_id, step, outcome, detail, actor, correlation_id)
           VALUES ({id}, {step}, {outcome}, {detail}, {actor}, {correlation_id})"#
    ))
    .await?;
    Ok(())
}

/// A timeline entry written with a transition.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Entry<'a> {
    pub step: &'a str,
    pub outcome: &'a str,
    pub detail: Option<&'a str>,
    pub actor: &'a str,
}

/// Moves the order from `from` to `to`, appends `entries` to its timeline, and returns the
/// order as it now stands, or `None` when someone else moved it first (then nothing is
/// written: the timeline never tells of a move that did not happen).
///
/// One statement, not a transaction of several: the update and the inserts are
/// data-modifying CTEs, which PostgreSQL applies atomically, like a transaction, but in a
/// single round trip. On the checkout path every round trip saved is CPU the database
/// and the kernel do not spend (docs/benchmarks.md). The caller may still run it inside
/// its own transaction, to add an outbox row or compensations to the same commit.
pub async fn transition(
    db: &impl ConnectionTrait,
    id: Uuid,
    from: OrderStatus,
    to: OrderStatus,
    change: Change<'_>,
    entries: &[Entry<'_>],
) -> Result<Option<Order>, OrderError> {
    let entries = serde_json::to_value(entries).map_err(|e| DbErr::Json(e.to_string()))?;
    let prices = change
        .prices
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| DbErr::Json(e.to_string()))?;
    Ok(Order::find_by_statement(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        format!(
            "WITH moved AS ( \
               UPDATE orders SET status = $1, reason_code = COALESCE($2, reason_code), \
                   reason = COALESCE($3, reason), total_amount_minor = COALESCE($4, total_amount_minor), \
                   updated_at = now() \
               WHERE id = $5 AND status = $6 RETURNING {ORDER_COLUMNS}), \
             priced AS ( \
               UPDATE order_lines o SET unit_price_minor = p.unit_price_minor \
               FROM moved, jsonb_to_recordset($7::jsonb) AS p(sku text, unit_price_minor bigint) \
               WHERE o.order_id = moved.id AND o.sku = p.sku), \
             logged AS ( \
               INSERT INTO order_timeline (order_id, step, outcome, detail, actor, correlation_id) \
               SELECT moved.id, e.entry->>'step', e.entry->>'outcome', e.entry->>'detail', \
                      e.entry->>'actor', moved.correlation_id \
               FROM moved, jsonb_array_elements($8) WITH ORDINALITY AS e(entry, n) \
               ORDER BY e.n) \
             SELECT * FROM moved"
        ),
        [
            to.into(),
            change.reason_code.into(),
            change.reason.into(),
            change.total_minor.into(),
            id.into(),
            from.into(),
            prices.into(),
            entries.into(),
        ],
    ))
    .one(db)
    .await?)
}

/// What a transition changes besides the status.
#[derive(Debug, Default, Clone, Copy)]
pub struct Change<'a> {
    pub reason_code: Option<&'a str>,
    pub reason: Option<&'a str>,
    /// Written to `total_amount_minor`.
    pub total_minor: Option<i64>,
    /// Unit prices to write to the order's lines: the lines of inventory's reservation.
    pub prices: Option<&'a [ReservedLine]>,
}

/// Inserts a new `pending` order with its lines and its first timeline entry, in one
/// statement (see [`transition`] for why), and returns it.
pub async fn create(db: &impl ConnectionTrait, new: &NewOrder<'_>) -> Result<Order, OrderError> {
    let lines: serde_json::Value = new
        .lines
        .iter()
        .map(|(sku, quantity)| serde_json::json!({ "sku": sku, "quantity": quantity }))
        .collect();
    let grace_ms = new.grace.as_millis() as i64;
    Order::find_by_statement(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        format!(
            "WITH created AS ( \
               INSERT INTO orders (id, customer_id, status, payment_method, correlation_id, next_attempt_at, deadline_at) \
               VALUES ($1, $2, 'pending', $3, $4, now() + $5 * interval '1 millisecond', $6) \
               RETURNING {ORDER_COLUMNS}), \
             lined AS ( \
               INSERT INTO order_lines (order_id, sku, quantity) \
               SELECT created.id, l.sku, l.quantity \
               FROM created, jsonb_to_recordset($7) AS l(sku text, quantity int)), \
             logged AS ( \
               INSERT INTO order_timeline (order_id, step, outcome, detail, actor, correlation_id) \
               SELECT created.id, 'create', 'pending', NULL, 'checkout', created.correlation_id FROM created) \
             SELECT * FROM created"
        ),
        [
            new.id.into(),
            new.customer_id.into(),
            new.card.into(),
            new.correlation_id.into(),
            grace_ms.into(),
            new.deadline.into(),
            lines.into(),
        ],
    ))
    .one(db)
    .await?
    .ok_or(OrderError::Database(DbErr::RecordNotInserted))
}

/// An order about to be created.
pub struct NewOrder<'a> {
    pub id: Uuid,
    pub customer_id: &'a str,
    pub card: &'a str,
    pub correlation_id: &'a str,
    pub lines: &'a [(String, i32)],
    /// The checkout request's head start before the reconciler may pick the order up.
    pub grace: std::time::Duration,
    pub deadline: DateTime<Utc>,
}

/// Everything shown with an order, in one round trip: its lines, its timeline and its
/// compensations, each aggregated to a JSON array by the database.
pub async fn details(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<(Vec<OrderLine>, Vec<TimelineEntry>, Vec<Compensation>), OrderError> {
    #[derive(FromQueryResult)]
    struct Row {
        lines: serde_json::Value,
        timeline: serde_json::Value,
        compensations: serde_json::Value,
    }
    let row = Row::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT
             (SELECT COALESCE(json_agg(l ORDER BY l.sku), '[]') FROM
                (SELECT sku, quantity, unit_price_minor FROM order_lines WHERE order_id = {id}) l) AS lines,
             (SELECT COALESCE(json_agg(t ORDER BY t.id), '[]') FROM
                (SELECT id, step, outcome, detail, actor, correlation_id, at FROM order_timeline
                 WHERE order_id = {id}) t) AS timeline,
             (SELECT COALESCE(json_agg(c ORDER BY c.created_at DESC), '[]') FROM
                (SELECT id, order_id, kind, status, attempts, next_attempt_at, last_error, correlation_id,
                        created_at, updated_at FROM compensations WHERE order_id = {id}) c) AS compensations"#
    ))
    .one(db)
    .await?
    .ok_or(OrderError::NotFound)?;
    let parse = |e: serde_json::Error| DbErr::Json(e.to_string());
    Ok((
        serde_json::from_value(row.lines).map_err(parse)?,
        serde_json::from_value(row.timeline).map_err(parse)?,
        serde_json::from_value(row.compensations).map_err(parse)?,
    ))
}
