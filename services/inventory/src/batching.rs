//! Reservation batching: the protection for a truly hot product.
//!
//! In `row` mode (`stock::reserve`) every reservation is its own transaction, and the
//! product's row stays locked from its `UPDATE` until its `COMMIT`: a round trip and a WAL
//! flush. Every other buyer of that product waits in line for the lock, so a flash sale
//! runs one commit at a time, and the buyers' wait grows with the line.
//!
//! In `batched` mode (`products.reservation_mode`, set per product by an operator) the
//! single-line reservations of the product join one queue per product, and one task takes
//! whatever has queued (up to `MAX_BATCH`) and reserves it all in one transaction: claim the
//! order ids, lock the row once, hand out units in arrival order, one `UPDATE`, one commit.
//! While that transaction runs the next batch forms, so nothing waits on a timer: a lone
//! reservation goes at once, and the busier the product the larger the batch (the group
//! commit databases use for their own log).
//!
//! What stays as in `row` mode: all or nothing per order (a single line gets all its units
//! or none, and a refused order's claim is removed in the same transaction), one reservation
//! per order id (the same claim on the primary key; a repeat is answered from the stored
//! reservation), no oversell (the units are counted out under the row lock). What it costs:
//! a failed batch fails every reservation in it (503, nothing held; the order service
//! retries), and a reservation of several lines still takes the row path.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use platform_contracts::inventory::{
    Line, Reservation, ReservationMode, ReservationStatus, ReservedLine, Shortage,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult, TransactionTrait, raw_sql};
use tokio::sync::{RwLock, mpsc, oneshot};
use uuid::Uuid;

use crate::{InventoryError, stock};

/// The most reservations one transaction takes.
const MAX_BATCH: usize = 256;
/// How long the set of batched products is trusted before it is read again: a mode set on
/// another instance takes effect here within this long.
const MODES_FRESH_FOR: Duration = Duration::from_secs(1);

type Answer = Result<(Reservation, bool), InventoryError>;

/// One reservation waiting for its batch.
struct Pending {
    order_id: Uuid,
    quantity: i32,
    correlation_id: String,
    reply: oneshot::Sender<Answer>,
}

/// Reserves stock, in a batch for products in `batched` mode, on the row otherwise.
#[derive(Clone)]
pub struct Reservations {
    db: DatabaseConnection,
    ttl: Duration,
    batched: Arc<RwLock<Batched>>,
    queues: Arc<Mutex<HashMap<String, mpsc::Sender<Pending>>>>,
}

struct Batched {
    skus: HashSet<String>,
    read_at: Option<Instant>,
}

impl Batched {
    fn fresh(&self) -> bool {
        self.read_at.is_some_and(|at| at.elapsed() < MODES_FRESH_FOR)
    }
}

impl Reservations {
    pub fn new(db: DatabaseConnection, ttl: Duration) -> Self {
        Self {
            db,
            ttl,
            batched: Arc::new(RwLock::new(Batched {
                skus: HashSet::new(),
                read_at: None,
            })),
            queues: Arc::default(),
        }
    }

    /// Reserves every line or none (see `stock::reserve`). Returns the reservation and
    /// whether this call created it.
    pub async fn reserve(&self, order_id: Uuid, lines: &[Line], correlation_id: &str) -> Answer {
        let lines = stock::normalize(lines)?;
        if let [line] = lines.as_slice()
            && self.is_batched(&line.sku).await?
        {
            let started = Instant::now();
            let answer = self.in_batch(order_id, line, correlation_id).await;
            record(ReservationMode::Batched, started);
            return answer;
        }
        let started = Instant::now();
        let answer = stock::reserve(&self.db, order_id, &lines, correlation_id, self.ttl).await;
        record(ReservationMode::Row, started);
        answer
    }

    /// Sets a product's mode; this instance uses it at once, the others within
    /// `MODES_FRESH_FOR`.
    pub async fn set_mode(&self, sku: &str, mode: ReservationMode) -> Result<(), InventoryError> {
        let updated = self
            .db
            .execute_raw(raw_sql!(
                Postgres,
                r#"UPDATE products SET reservation_mode = {mode}, updated_at = now() WHERE sku = {sku}"#
            ))
            .await?
            .rows_affected();
        if updated == 0 {
            return Err(InventoryError::ProductNotFound);
        }
        self.batched.write().await.read_at = None;
        tracing::info!(sku, %mode, "reservation mode set");
        Ok(())
    }

    async fn is_batched(&self, sku: &str) -> Result<bool, InventoryError> {
        {
            let batched = self.batched.read().await;
            if batched.fresh() {
                return Ok(batched.skus.contains(sku));
            }
        }
        let mut batched = self.batched.write().await;
        if !batched.fresh() {
            let rows = self
                .db
                .query_all_raw(raw_sql!(
                    Postgres,
                    r#"SELECT sku FROM products WHERE reservation_mode = 'batched'"#
                ))
                .await?;
            batched.skus = rows
                .iter()
                .map(|row| row.try_get("", "sku"))
                .collect::<Result<_, _>>()?;
            batched.read_at = Some(Instant::now());
        }
        Ok(batched.skus.contains(sku))
    }

    async fn in_batch(&self, order_id: Uuid, line: &Line, correlation_id: &str) -> Answer {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            order_id,
            quantity: line.quantity,
            correlation_id: correlation_id.to_string(),
            reply,
        };
        self.queue(&line.sku)
            .send(pending)
            .await
            .map_err(|_| InventoryError::BatchFailed("the batch queue is closed".into()))?;
        answer
            .await
            .map_err(|_| InventoryError::BatchFailed("the batch ended without an answer".into()))?
    }

    /// The product's queue, and the task that drains it, started on first use.
    fn queue(&self, sku: &str) -> mpsc::Sender<Pending> {
        let mut queues = self.queues.lock().expect("queues lock");
        if let Some(queue) = queues.get(sku).filter(|q| !q.is_closed()) {
            return queue.clone();
        }
        let (queue, incoming) = mpsc::channel(4 * MAX_BATCH);
        let (db, ttl, sku) = (self.db.clone(), self.ttl, sku.to_string());
        queues.insert(sku.clone(), queue.clone());
        tokio::spawn(drain(db, ttl, sku, incoming));
        queue
    }
}

fn record(mode: ReservationMode, started: Instant) {
    metrics::histogram!("inventory_reserve_duration_seconds", "mode" => mode.as_str())
        .record(started.elapsed().as_secs_f64());
}

/// Takes whatever has queued, reserves it in one transaction, answers each, and again.
async fn drain(db: DatabaseConnection, ttl: Duration, sku: String, mut incoming: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while incoming.recv_many(&mut batch, MAX_BATCH).await > 0 {
        metrics::histogram!("inventory_reservation_batch_size").record(batch.len() as f64);
        metrics::counter!("inventory_reservation_batches_total").increment(1);
        let answers = match reserve_batch(&db, ttl, &sku, &batch).await {
            Ok(answers) => answers,
            Err(e) => {
                tracing::warn!(sku, size = batch.len(), error = %e, "reservation batch failed");
                batch
                    .iter()
                    .map(|_| Err(InventoryError::BatchFailed(e.to_string())))
                    .collect()
            }
        };
        for (pending, answer) in batch.drain(..).zip(answers) {
            // The caller may have gone (its request timed out): the order service settles
            // such a reservation like one made by a row transaction it stopped waiting for.
            let _ = pending.reply.send(answer);
        }
    }
}

#[derive(FromQueryResult)]
struct Claimed {
    order_id: Uuid,
    correlation_id: String,
    expires_at: DateTime<Utc>,
}

#[derive(FromQueryResult)]
struct Stock {
    available: i32,
    price_minor: i64,
}

/// Reserves a batch of single-line reservations of `sku` in one transaction. One answer
/// per pending reservation, in order.
async fn reserve_batch(
    db: &DatabaseConnection,
    ttl: Duration,
    sku: &str,
    batch: &[Pending],
) -> Result<Vec<Answer>, InventoryError> {
    let ttl_ms = ttl.as_millis() as i64;
    let ids: Vec<Uuid> = batch.iter().map(|p| p.order_id).collect();
    let correlations: Vec<String> = batch.iter().map(|p| p.correlation_id.clone()).collect();
    let txn = db.begin().await?;
    // Claim every order id, as a row reservation does: an id reserved before (or twice in
    // this batch) is not claimed, and is answered from what is stored once this commits.
    let claimed: HashMap<Uuid, Claimed> = Claimed::find_by_statement(raw_sql!(
        Postgres,
        r#"INSERT INTO reservations (order_id, status, correlation_id, expires_at)
           SELECT id, 'reserved', correlation_id, now() + {ttl_ms} * interval '1 millisecond'
           FROM unnest({ids}::uuid[], {correlations}::text[]) AS c(id, correlation_id)
           ON CONFLICT (order_id) DO NOTHING
           RETURNING order_id, correlation_id, expires_at"#
    ))
    .all(&txn)
    .await?
    .into_iter()
    .map(|c| (c.order_id, c))
    .collect();
    // One lock on the product's row for the whole batch.
    let Some(stock) = Stock::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT available, price_minor FROM products WHERE sku = {sku} FOR UPDATE"#
    ))
    .one(&txn)
    .await?
    else {
        txn.rollback().await?;
        return Ok(batch
            .iter()
            .map(|_| Err(InventoryError::UnknownProducts(vec![sku.to_string()])))
            .collect());
    };
    // Units counted out in arrival order, under the lock.
    let mut left = stock.available;
    let mut decided = HashSet::new();
    let (mut granted, mut quantities, mut refused) = (Vec::new(), Vec::new(), Vec::new());
    for p in batch {
        if claimed.contains_key(&p.order_id) && decided.insert(p.order_id) {
            if p.quantity <= left {
                left -= p.quantity;
                granted.push(p.order_id);
                quantities.push(p.quantity);
            } else {
                refused.push(p.order_id);
            }
        }
    }
    if !granted.is_empty() {
        let total: i32 = quantities.iter().sum();
        txn.execute_raw(raw_sql!(
            Postgres,
            r#"WITH taken AS (
                   UPDATE products
                   SET available = available - {total}, reserved = reserved + {total}, updated_at = now()
                   WHERE sku = {sku}
                   RETURNING sku, price_minor)
               INSERT INTO reservation_lines (order_id, sku, quantity, unit_price_minor)
               SELECT g.id, t.sku, g.quantity, t.price_minor
               FROM taken t, unnest({granted}::uuid[], {quantities}::int[]) AS g(id, quantity)"#
        ))
        .await?;
    }
    if !refused.is_empty() {
        // All or nothing: nothing is held for an order that cannot be fulfilled.
        txn.execute_raw(raw_sql!(
            Postgres,
            r#"DELETE FROM reservations WHERE order_id = ANY({refused})"#
        ))
        .await?;
    }
    txn.commit().await?;

    // Each claimed order is answered once as created; a second copy of it in this batch
    // gets the same answer as a repeat, and an id reserved before the stored reservation.
    let granted: HashMap<Uuid, i32> = granted.into_iter().zip(quantities).collect();
    let mut answered = HashSet::new();
    let mut answers = Vec::with_capacity(batch.len());
    for p in batch {
        let first = answered.insert(p.order_id);
        answers.push(match (claimed.get(&p.order_id), granted.get(&p.order_id)) {
            (Some(claim), Some(&quantity)) if quantity == p.quantity => {
                Ok((reservation(claim, sku, quantity, stock.price_minor), first))
            }
            (Some(_), Some(_)) => Err(InventoryError::ReservationMismatch),
            (Some(_), None) => Err(InventoryError::InsufficientStock(vec![Shortage {
                sku: sku.to_string(),
                requested: p.quantity,
                available: left,
            }])),
            (None, _) => {
                let line = Line {
                    sku: sku.to_string(),
                    quantity: p.quantity,
                };
                stock::replay(db, p.order_id, &[line]).await.map(|r| (r, false))
            }
        });
    }
    Ok(answers)
}

fn reservation(claim: &Claimed, sku: &str, quantity: i32, price_minor: i64) -> Reservation {
    Reservation {
        order_id: claim.order_id,
        status: ReservationStatus::Reserved,
        correlation_id: claim.correlation_id.clone(),
        expires_at: claim.expires_at,
        lines: vec![ReservedLine {
            sku: sku.to_string(),
            quantity,
            unit_price_minor: price_minor,
        }],
        total_minor: price_minor * quantity as i64,
        currency: "EUR".into(),
    }
}
