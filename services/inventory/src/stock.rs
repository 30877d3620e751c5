//! Stock and reservations: the queries that keep stock from ever being oversold.
//!
//! The hot-row lesson: when 500 shoppers buy the last 10 sneakers at once, a
//! `SELECT ... FOR UPDATE` followed by an `UPDATE` queues every buyer behind one lock for
//! the length of a round trip, and a read-then-write without the lock oversells. Here each
//! stock change is one statement, `UPDATE ... SET available = available - n WHERE sku = $1
//! AND available >= n`: PostgreSQL checks and decrements atomically, the row lock lasts
//! only as long as the statement's transaction, and no network call happens inside it.
//!
//! Every operation is idempotent per order id (the primary key of `reservations`), so the
//! order service may retry any of them after a timeout without holding stock twice.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Utc};
use platform_contracts::inventory::{Line, Product, Reservation, ReservationStatus, ReservedLine, Shortage};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, FromQueryResult, TransactionTrait, raw_sql,
};
use uuid::Uuid;

use crate::InventoryError;

#[derive(Debug, FromQueryResult)]
struct ReservationRow {
    order_id: Uuid,
    status: ReservationStatus,
    correlation_id: String,
    expires_at: DateTime<Utc>,
}

const MAX_LINES: usize = 50;
const MAX_QUANTITY: i32 = 1_000;

/// Validates lines and merges duplicates. Sorting by SKU gives every transaction the same
/// lock order, so two reservations touching the same products can never deadlock.
pub fn normalize(lines: &[Line]) -> Result<Vec<Line>, InventoryError> {
    if lines.is_empty() || lines.len() > MAX_LINES {
        return Err(InventoryError::Invalid(format!(
            "between 1 and {MAX_LINES} lines are required"
        )));
    }
    let mut merged: BTreeMap<&str, i32> = BTreeMap::new();
    for line in lines {
        if line.sku.trim().is_empty() || line.sku.len() > 64 {
            return Err(InventoryError::Invalid(
                "every line needs a sku of 1 to 64 characters".into(),
            ));
        }
        if !(1..=MAX_QUANTITY).contains(&line.quantity) {
            return Err(InventoryError::Invalid(format!(
                "quantity of {} must be between 1 and {MAX_QUANTITY}",
                line.sku
            )));
        }
        *merged.entry(line.sku.as_str()).or_default() += line.quantity;
    }
    Ok(merged
        .into_iter()
        .map(|(sku, quantity)| Line {
            sku: sku.to_string(),
            quantity,
        })
        .collect())
}

pub async fn list_products(db: &DatabaseConnection) -> Result<Vec<Product>, InventoryError> {
    Ok(Product::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT sku, name, description, price_minor, currency::text AS currency, available, reserved,
                  sold, initial_stock, hot
           FROM products ORDER BY hot DESC, name"#
    ))
    .all(db)
    .await?)
}

pub async fn get_product(db: &DatabaseConnection, sku: &str) -> Result<Product, InventoryError> {
    Product::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT sku, name, description, price_minor, currency::text AS currency, available, reserved,
                  sold, initial_stock, hot
           FROM products WHERE sku = {sku}"#
    ))
    .one(db)
    .await?
    .ok_or(InventoryError::ProductNotFound)
}

/// Largest single restock: a typo of a few zeros should be refused, not stocked.
pub const MAX_RESTOCK: i32 = 100_000;

/// Adds stock to a product, once per idempotency key. Returns the product and whether this
/// call added it (`false`: a retry, answered without adding again). The key row and the
/// stock change commit together, so a crash between them cannot add stock twice or lose it.
pub async fn restock(
    db: &DatabaseConnection,
    key: &str,
    sku: &str,
    quantity: i32,
    correlation_id: &str,
) -> Result<(Product, bool), InventoryError> {
    if !(1..=MAX_RESTOCK).contains(&quantity) {
        return Err(InventoryError::Invalid(format!(
            "quantity must be between 1 and {MAX_RESTOCK}"
        )));
    }
    let product = get_product(db, sku).await?;
    let txn = db.begin().await?;
    let first = txn
        .execute_raw(raw_sql!(
            Postgres,
            r#"INSERT INTO restocks (idempotency_key, sku, quantity, correlation_id)
               VALUES ({key}, {sku}, {quantity}, {correlation_id})
               ON CONFLICT (idempotency_key) DO NOTHING"#
        ))
        .await?
        .rows_affected()
        == 1;
    if !first {
        txn.rollback().await?;
        #[derive(FromQueryResult)]
        struct Earlier {
            sku: String,
            quantity: i32,
        }
        let earlier = Earlier::find_by_statement(raw_sql!(
            Postgres,
            r#"SELECT sku, quantity FROM restocks WHERE idempotency_key = {key}"#
        ))
        .one(db)
        .await?
        .ok_or(InventoryError::ProductNotFound)?;
        if (earlier.sku.as_str(), earlier.quantity) != (sku, quantity) {
            return Err(InventoryError::IdempotencyKeyReused);
        }
        return Ok((get_product(db, sku).await?, false));
    }
    txn.execute_raw(raw_sql!(
        Postgres,
        r#"UPDATE products SET available = available + {quantity}, initial_stock = initial_stock + {quantity},
               updated_at = now()
           WHERE sku = {sku}"#
    ))
    .await?;
    txn.commit().await?;
    tracing::info!(sku, quantity, before = product.available, "restocked");
    Ok((get_product(db, sku).await?, true))
}

/// Reserves every line or none. Returns the reservation and whether this call created it
/// (`false`: a retry of an earlier successful call, answered from the stored reservation).
pub async fn reserve(
    db: &DatabaseConnection,
    order_id: Uuid,
    lines: &[Line],
    correlation_id: &str,
    ttl: Duration,
) -> Result<(Reservation, bool), InventoryError> {
    let lines = normalize(lines)?;
    let ttl_ms = ttl.as_millis() as i64;
    let txn = db.begin().await?;
    // Claim the order id first. A concurrent duplicate blocks here on the primary key until
    // this transaction ends, then finds the row: two requests can never both reserve.
    let claimed = ReservationRow::find_by_statement(raw_sql!(
        Postgres,
        r#"INSERT INTO reservations (order_id, status, correlation_id, expires_at)
           VALUES ({order_id}, 'reserved', {correlation_id}, now() + {ttl_ms} * interval '1 millisecond')
           ON CONFLICT (order_id) DO NOTHING
           RETURNING order_id, status, correlation_id, expires_at"#
    ))
    .one(&txn)
    .await?;
    let Some(claimed) = claimed else {
        txn.rollback().await?;
        return replay(db, order_id, &lines).await.map(|r| (r, false));
    };

    // One conditional update per line, in SKU order (normalize sorted them): two orders
    // locking the same products always lock them in the same order, so they cannot deadlock.
    // The line is recorded, at the price it was taken at, by the same statement.
    let mut reserved = Vec::with_capacity(lines.len());
    let mut missing = Vec::new();
    for line in &lines {
        let (sku, quantity) = (&line.sku, line.quantity);
        let taken = ReservedLine::find_by_statement(raw_sql!(
            Postgres,
            r#"WITH taken AS (
                   UPDATE products
                   SET available = available - {quantity}, reserved = reserved + {quantity}, updated_at = now()
                   WHERE sku = {sku} AND available >= {quantity}
                   RETURNING sku, price_minor)
               INSERT INTO reservation_lines (order_id, sku, quantity, unit_price_minor)
               SELECT {order_id}, sku, {quantity}, price_minor FROM taken
               RETURNING sku, quantity, unit_price_minor"#
        ))
        .one(&txn)
        .await?;
        match taken {
            Some(line) => reserved.push(line),
            None => missing.push(line.clone()),
        }
    }
    if !missing.is_empty() {
        // All or nothing: the rollback returns what the other lines took, and removes the
        // claim, so nothing is held for an order that cannot be fulfilled.
        txn.rollback().await?;
        return Err(explain_shortage(db, &missing).await?);
    }
    txn.commit().await?;
    // Answered from what this transaction wrote: no second read.
    Ok((claimed.with_lines(reserved), true))
}

/// Tells unknown products apart from products without enough stock.
async fn explain_shortage(
    db: &DatabaseConnection,
    missing: &[Line],
) -> Result<InventoryError, InventoryError> {
    let mut unknown = Vec::new();
    let mut short = Vec::new();
    for line in missing {
        match get_product(db, &line.sku).await {
            Ok(p) => short.push(Shortage {
                sku: line.sku.clone(),
                requested: line.quantity,
                available: p.available,
            }),
            Err(InventoryError::ProductNotFound) => unknown.push(line.sku.clone()),
            Err(e) => return Err(e),
        }
    }
    Ok(if unknown.is_empty() {
        InventoryError::InsufficientStock(short)
    } else {
        InventoryError::UnknownProducts(unknown)
    })
}

/// Answers a repeated reserve from what the first one stored.
pub(crate) async fn replay(
    db: &DatabaseConnection,
    order_id: Uuid,
    lines: &[Line],
) -> Result<Reservation, InventoryError> {
    let existing = load(db, order_id)
        .await?
        .ok_or(InventoryError::ReservationNotFound)?;
    match existing.status {
        ReservationStatus::Reserved | ReservationStatus::Committed => {
            let stored: Vec<Line> = existing
                .lines
                .iter()
                .map(|l| Line {
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                })
                .collect();
            if stored != lines {
                return Err(InventoryError::ReservationMismatch);
            }
            Ok(existing)
        }
        closed @ (ReservationStatus::Released | ReservationStatus::Expired | ReservationStatus::Returned) => {
            Err(InventoryError::ReservationClosed(closed))
        }
    }
}

pub async fn load(db: &impl ConnectionTrait, order_id: Uuid) -> Result<Option<Reservation>, InventoryError> {
    let Some(row) = ReservationRow::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT order_id, status, correlation_id, expires_at FROM reservations WHERE order_id = {order_id}"#
    ))
    .one(db)
    .await?
    else {
        return Ok(None);
    };
    let lines = ReservedLine::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT sku, quantity, unit_price_minor FROM reservation_lines WHERE order_id = {order_id} ORDER BY sku"#
    ))
    .all(db)
    .await?;
    Ok(Some(row.with_lines(lines)))
}

impl ReservationRow {
    fn with_lines(self, lines: Vec<ReservedLine>) -> Reservation {
        Reservation {
            order_id: self.order_id,
            status: self.status,
            correlation_id: self.correlation_id,
            expires_at: self.expires_at,
            total_minor: lines.iter().map(|l| l.unit_price_minor * l.quantity as i64).sum(),
            currency: "EUR".into(),
            lines,
        }
    }
}

/// Returns the stock of a reservation that is still held. Idempotent: releasing twice, or
/// releasing an expired reservation, is a no-op. Releasing an order never reserved leaves a
/// 'released' marker, so a reserve that arrives late (it was stuck in the network while
/// the order service gave up) cannot take stock for an order that is already cancelled.
pub async fn release(
    db: &DatabaseConnection,
    order_id: Uuid,
    correlation_id: &str,
) -> Result<ReservationStatus, InventoryError> {
    let txn = db.begin().await?;
    let status = settle(&txn, order_id, Settle::Release, correlation_id).await?;
    txn.commit().await?;
    Ok(status)
}

/// Turns held stock into sold stock. Idempotent: committing twice is a no-op.
pub async fn commit(
    db: &DatabaseConnection,
    order_id: Uuid,
    correlation_id: &str,
) -> Result<ReservationStatus, InventoryError> {
    let txn = db.begin().await?;
    let status = settle(&txn, order_id, Settle::Commit, correlation_id).await?;
    txn.commit().await?;
    Ok(status)
}

/// Puts a cancelled order's stock back on sale, in one transaction: a committed
/// reservation's stock moves from `sold` to `available`, a reservation still `reserved` (the
/// cancel came before the commit) from `reserved` to `available`. Idempotent: returning
/// twice returns once. Only the order service's cancel asks for it (a compensation), after
/// it moved the order to `cancelled`; a released or expired reservation holds nothing to
/// return, and saying so (409) is the honest answer.
pub async fn return_stock(
    db: &DatabaseConnection,
    order_id: Uuid,
) -> Result<ReservationStatus, InventoryError> {
    let txn = db.begin().await?;
    // The reservation first, then its products in SKU order: the order every settlement
    // and reservation locks in, so a return never deadlocks with them.
    let Some(current) = ReservationRow::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT order_id, status, correlation_id, expires_at FROM reservations
           WHERE order_id = {order_id} FOR UPDATE"#
    ))
    .one(&txn)
    .await?
    else {
        return Err(InventoryError::ReservationNotFound);
    };
    let (from_reserved, from_sold) = match current.status {
        ReservationStatus::Returned => return Ok(ReservationStatus::Returned),
        ReservationStatus::Reserved => (1, 0),
        ReservationStatus::Committed => (0, 1),
        closed @ (ReservationStatus::Released | ReservationStatus::Expired) => {
            return Err(InventoryError::ReservationClosed(closed));
        }
    };
    txn.query_all_raw(raw_sql!(
        Postgres,
        r#"SELECT p.sku FROM products p
           WHERE p.sku IN (SELECT sku FROM reservation_lines WHERE order_id = {order_id})
           ORDER BY p.sku FOR UPDATE OF p"#
    ))
    .await?;
    txn.execute_raw(raw_sql!(
        Postgres,
        r#"UPDATE products p
           SET reserved = p.reserved - l.quantity * {from_reserved},
               sold = p.sold - l.quantity * {from_sold},
               available = p.available + l.quantity,
               updated_at = now()
           FROM reservation_lines l
           WHERE l.order_id = {order_id} AND p.sku = l.sku"#
    ))
    .await?;
    txn.execute_raw(raw_sql!(
        Postgres,
        r#"UPDATE reservations SET status = 'returned', updated_at = now() WHERE order_id = {order_id}"#
    ))
    .await?;
    txn.commit().await?;
    Ok(ReservationStatus::Returned)
}

#[derive(Debug, Clone, Copy)]
pub enum Settle {
    Release,
    Commit,
}

/// Moves a 'reserved' reservation to released or committed, and its stock from `reserved`
/// to `available` or `sold`, inside the caller's transaction (the HTTP handler's, or the
/// event consumer's, where it joins the processed-events record).
pub async fn settle(
    txn: &DatabaseTransaction,
    order_id: Uuid,
    how: Settle,
    correlation_id: &str,
) -> Result<ReservationStatus, InventoryError> {
    let target = match how {
        Settle::Release => ReservationStatus::Released,
        Settle::Commit => ReservationStatus::Committed,
    };
    // Close the reservation and lock its order's products, in one statement. The products
    // are locked in SKU order, the order `reserve` takes them in. Without it the UPDATE below
    // locks them in whatever order its join produces, and two settlements (or a settlement
    // and a reservation) sharing two products can each hold one and wait for the other: a
    // deadlock, which PostgreSQL only breaks after `deadlock_timeout` (1 s), while every
    // checkout wanting those products queues behind. No product row locked means the
    // reservation was not 'reserved' (every reservation has at least one line).
    let moved = !txn
        .query_all_raw(raw_sql!(
            Postgres,
            r#"WITH moved AS (
                   UPDATE reservations SET status = {target}, updated_at = now()
                   WHERE order_id = {order_id} AND status = 'reserved'
                   RETURNING order_id)
               SELECT p.sku FROM products p
               WHERE p.sku IN (SELECT l.sku FROM reservation_lines l JOIN moved USING (order_id))
               ORDER BY p.sku FOR UPDATE OF p"#
        ))
        .await?
        .is_empty();
    if moved {
        let (to_available, to_sold) = match how {
            Settle::Release => (1, 0),
            Settle::Commit => (0, 1),
        };
        txn.execute_raw(raw_sql!(
            Postgres,
            r#"UPDATE products p
               SET reserved = p.reserved - l.quantity,
                   available = p.available + l.quantity * {to_available},
                   sold = p.sold + l.quantity * {to_sold},
                   updated_at = now()
               FROM reservation_lines l
               WHERE l.order_id = {order_id} AND p.sku = l.sku"#
        ))
        .await?;
        return Ok(target);
    }
    if let Settle::Release = how {
        txn.execute_raw(raw_sql!(
            Postgres,
            r#"INSERT INTO reservations (order_id, status, correlation_id, expires_at)
               VALUES ({order_id}, 'released', {correlation_id}, now())
               ON CONFLICT (order_id) DO NOTHING"#
        ))
        .await?;
    }
    let current = load(txn, order_id).await?;
    let status = current
        .map(|r| r.status)
        .ok_or(InventoryError::ReservationNotFound)?;
    use ReservationStatus::*;
    match (how, status) {
        (Settle::Release, Released | Expired) | (Settle::Commit, Committed) => Ok(status),
        // The customer cancelled before the commit arrived, and the stock is back on sale:
        // there is nothing left to commit or to release. `Returned` only ever follows a
        // cancel of a confirmed order (`return_stock`), so this hides no other mistake.
        (Settle::Release | Settle::Commit, Returned) => Ok(status),
        (Settle::Release, Committed) => Err(InventoryError::AlreadyCommitted),
        (_, Reserved) | (Settle::Commit, Released | Expired) => {
            Err(InventoryError::ReservationClosed(status))
        }
    }
}

/// Reservations still held past their time, oldest first: `(order_id, correlation_id)`.
/// What happens to them is the order service's decision (see `expiry.rs`).
pub async fn due(db: &DatabaseConnection, limit: i64) -> Result<Vec<(Uuid, String)>, InventoryError> {
    let rows = db
        .query_all_raw(raw_sql!(
            Postgres,
            r#"SELECT order_id, correlation_id FROM reservations
               WHERE status = 'reserved' AND expires_at < now()
               ORDER BY expires_at LIMIT {limit}"#
        ))
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("", "order_id")?, r.try_get("", "correlation_id")?)))
        .collect::<Result<_, sea_orm::DbErr>>()
        .map_err(Into::into)
}

/// Gives these reservations more time (their order is still being decided).
pub async fn extend(
    db: &DatabaseConnection,
    order_ids: &[Uuid],
    ttl: Duration,
) -> Result<u64, InventoryError> {
    let (ids, secs) = (order_ids.to_vec(), ttl.as_secs_f64());
    let result = db
        .execute_raw(raw_sql!(
            Postgres,
            r#"UPDATE reservations SET expires_at = now() + {secs} * interval '1 second', updated_at = now()
               WHERE order_id = ANY({ids}) AND status = 'reserved'"#
        ))
        .await?;
    Ok(result.rows_affected())
}

/// Expires these reservations (their order will never be confirmed) and returns their stock,
/// in one statement. `SKIP LOCKED` lets several inventory instances sweep at once without
/// waiting on each other; quantities are summed per product because an `UPDATE ... FROM`
/// applies only one matching row per target row. The products are locked in SKU order first
/// (`locked`), the order reservations and settlements take them in, so that a sweep never
/// holds one product a checkout needs while waiting for another that checkout holds (see
/// `settle`).
pub async fn expire(db: &DatabaseConnection, order_ids: &[Uuid]) -> Result<u64, InventoryError> {
    let ids = order_ids.to_vec();
    let result = db
        .execute_raw(raw_sql!(
            Postgres,
            r#"WITH expired AS (
                   UPDATE reservations SET status = 'expired', updated_at = now()
                   WHERE order_id IN (
                       SELECT order_id FROM reservations
                       WHERE order_id = ANY({ids}) AND status = 'reserved'
                       FOR UPDATE SKIP LOCKED)
                   RETURNING order_id),
               totals AS (
                   SELECT l.sku, SUM(l.quantity)::int AS quantity
                   FROM reservation_lines l JOIN expired e ON e.order_id = l.order_id
                   GROUP BY l.sku),
               locked AS MATERIALIZED (
                   SELECT p.sku FROM products p WHERE p.sku IN (SELECT sku FROM totals)
                   ORDER BY p.sku FOR UPDATE)
               UPDATE products p
               SET available = p.available + t.quantity, reserved = p.reserved - t.quantity, updated_at = now()
               FROM totals t JOIN locked k ON k.sku = t.sku WHERE p.sku = t.sku"#
        ))
        .await?;
    Ok(result.rows_affected())
}
