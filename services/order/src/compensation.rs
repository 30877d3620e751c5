//! Compensations: the durable undo of a checkout that did not complete.
//!
//! The incident this prevents: a payment provider answers 429 to a refund, nobody retries,
//! the message lands in a dead-letter queue nobody watches, and customers are charged for
//! cancelled orders. Here every undo (release the reservation, void the authorization) is:
//! - **durable**: a row written in the same transaction that ended the order;
//! - **idempotent**: inventory and payment accept the same release/void any number of times;
//! - **retried** with exponential backoff and jitter on 429, 5xx and timeouts, never sooner
//!   than the dependency's `Retry-After`;
//! - **rate-limited separately** from normal traffic (a token bucket and a concurrency cap),
//!   so 1,000 orders failing at once produce a steady trickle of undos, not a storm that
//!   takes inventory down on top of whatever failed first;
//! - **parked with an alert** after N attempts, listed at `GET /admin/compensations` and
//!   retried by an operator with `POST /admin/compensations/{id}/retry`.

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use actix::Addr;
use futures_util::{StreamExt, stream};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use platform_contracts::{
    inventory::{self, SettleResponse},
    order::{Compensation, CompensationKind, CompensationStatus},
    payment::{self, Payment},
};
use platform_service::periodic::{Periodic, Wake};
use platform_telemetry::CorrelationId;
use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult, Statement, TransactionTrait, raw_sql};
use uuid::Uuid;

use crate::{
    OrderError,
    clients::{CallError, Dependency},
    orders,
};

#[derive(Debug, Clone)]
pub struct Policy {
    /// Undo calls per second, across all kinds: a fraction of normal traffic.
    pub rate_per_sec: u32,
    pub max_concurrency: usize,
    pub max_attempts: i32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

/// Records compensations and wakes the worker. Cheap to clone.
#[derive(Clone, Default)]
pub struct Compensations {
    worker: Option<Addr<Periodic>>,
}

impl Compensations {
    pub fn with_worker(worker: Addr<Periodic>) -> Self {
        Self { worker: Some(worker) }
    }

    /// Writes the duty to undo; call it inside the transaction that ends the order.
    pub async fn record(
        &self,
        db: &impl ConnectionTrait,
        order_id: Uuid,
        kind: CompensationKind,
        correlation_id: &str,
    ) -> Result<(), OrderError> {
        let (id, kind) = (Uuid::now_v7(), kind.as_str());
        db.execute_raw(raw_sql!(
            Postgres,
            r#"INSERT INTO compensations (id, order_id, kind, status, correlation_id)
               VALUES ({id}, {order_id}, {kind}, 'pending', {correlation_id})
               ON CONFLICT (order_id, kind) DO NOTHING"#
        ))
        .await?;
        Ok(())
    }

    /// Runs the worker now instead of at its next tick.
    pub fn wake(&self) {
        if let Some(worker) = &self.worker {
            worker.do_send(Wake);
        }
    }
}

/// The worker's pass: claims due compensations and executes them within the limits.
#[derive(Clone)]
pub struct Compensator {
    db: DatabaseConnection,
    inventory: Dependency,
    payment: Dependency,
    limiter: Arc<DefaultDirectRateLimiter>,
    policy: Policy,
}

impl Compensator {
    pub fn new(db: DatabaseConnection, inventory: Dependency, payment: Dependency, policy: Policy) -> Self {
        let rate = NonZeroU32::new(policy.rate_per_sec.max(1)).expect("max(1) is non-zero");
        // Every series exists from the start, at 0: a counter born in the middle of a burst
        // (its first sample already 60) shows no increase to Prometheus' rate(), and the
        // chart of a first compensation storm would stay flat.
        for kind in CompensationKind::ALL {
            for outcome in ["done", "retried", "parked"] {
                metrics::counter!("order_compensations_total", "kind" => kind.as_str(), "outcome" => outcome)
                    .increment(0);
            }
        }
        Self {
            db,
            inventory,
            payment,
            limiter: Arc::new(RateLimiter::direct(Quota::per_second(rate))),
            policy,
        }
    }

    async fn execute(&self, c: &Compensation) -> Result<(), OrderError> {
        self.limiter.until_ready().await;
        let correlation = CorrelationId::parse(&c.correlation_id).unwrap_or_default();
        // Both undo calls are idempotent per order id: a retry after a timeout (did it
        // happen?) undoes nothing twice. The answers are read only to check their shape.
        let result = match c.kind {
            CompensationKind::ReleaseReservation => self
                .inventory
                .post::<SettleResponse>(&inventory::release_path(c.order_id), None::<&()>, &correlation)
                .await
                .map(drop),
            CompensationKind::VoidAuthorization => self
                .payment
                .post::<Payment>(&payment::void_path(c.order_id), None::<&()>, &correlation)
                .await
                .map(drop),
            // A customer's cancel (cancel.rs): the same durable, retried, rate-limited undo.
            CompensationKind::ReturnStock => self
                .inventory
                .post::<SettleResponse>(&inventory::return_path(c.order_id), None::<&()>, &correlation)
                .await
                .map(drop),
            CompensationKind::RefundPayment => self
                .payment
                .post::<Payment>(&payment::refund_path(c.order_id), None::<&()>, &correlation)
                .await
                .map(drop),
        };
        let id = c.id;
        match result {
            Ok(_) => {
                let done = raw_sql!(
                    Postgres,
                    r#"UPDATE compensations SET status = 'done', attempts = attempts + 1, last_error = NULL,
                           updated_at = now() WHERE id = {id} AND status = 'pending'"#
                );
                if self.settle(c, done, "done", "done", None).await? {
                    tracing::info!(order_id = %c.order_id, correlation_id = %c.correlation_id, kind = %c.kind, "compensation done");
                }
            }
            Err(e) if e.is_transient() && c.attempts + 1 < self.policy.max_attempts => {
                let delay = platform_runtime::retry_policy::delay_for(
                    c.attempts as u32,
                    self.policy.base_delay,
                    self.policy.max_delay,
                    e.retry_after(),
                );
                let (delay_ms, error) = (delay.as_millis() as i64, e.to_string());
                let retry = raw_sql!(
                    Postgres,
                    r#"UPDATE compensations SET attempts = attempts + 1, last_error = {error},
                           next_attempt_at = now() + {delay_ms} * interval '1 millisecond', updated_at = now()
                       WHERE id = {id} AND status = 'pending'"#
                );
                let detail = format!("{e}; retry in {delay_ms} ms");
                if self
                    .settle(c, retry, "retry_scheduled", "retried", Some(&detail))
                    .await?
                {
                    tracing::info!(order_id = %c.order_id, correlation_id = %c.correlation_id, kind = %c.kind, error = %e, delay_ms, "compensation will be retried");
                }
            }
            Err(e) => self.park(c, &e).await?,
        }
        Ok(())
    }

    /// Applies the attempt's outcome to the compensation (`change`) and tells it on the
    /// order's timeline (`outcome`) in one transaction, then counts it in the metrics
    /// (`counted_as`). Returns whether the change applied.
    ///
    /// One transaction because a reader between two commits would see the compensation
    /// `done` with no `done` on the timeline (a CI run caught exactly that). And nothing is
    /// told when the change matched no row: the compensation is no longer pending (an
    /// operator or another instance settled it), so this attempt changed nothing.
    async fn settle(
        &self,
        c: &Compensation,
        change: Statement,
        outcome: &str,
        counted_as: &'static str,
        detail: Option<&str>,
    ) -> Result<bool, OrderError> {
        let kind = c.kind.as_str();
        let txn = self.db.begin().await?;
        if txn.execute_raw(change).await?.rows_affected() == 0 {
            return Ok(false); // dropping the transaction rolls it back
        }
        orders::record(
            &txn,
            c.order_id,
            kind,
            outcome,
            detail,
            "compensator",
            &c.correlation_id,
        )
        .await?;
        txn.commit().await?;
        metrics::counter!("order_compensations_total", "kind" => kind, "outcome" => counted_as).increment(1);
        Ok(true)
    }

    /// Out of attempts, or refused for good: stop retrying, keep the record, raise the alarm.
    async fn park(&self, c: &Compensation, e: &CallError) -> Result<(), OrderError> {
        let (id, error) = (c.id, e.to_string());
        let parked = raw_sql!(
            Postgres,
            r#"UPDATE compensations SET status = 'parked', attempts = attempts + 1, last_error = {error},
                   updated_at = now() WHERE id = {id} AND status = 'pending'"#
        );
        if !self.settle(c, parked, "parked", "parked", Some(&error)).await? {
            return Ok(());
        }
        tracing::error!(
            alert = "compensation_parked",
            compensation = %c.id,
            order_id = %c.order_id,
            correlation_id = %c.correlation_id,
            kind = %c.kind,
            attempts = c.attempts + 1,
            error = %e,
            "ALERT: compensation parked; an operator must retry it (POST /admin/compensations/{}/retry)",
            c.id
        );
        Ok(())
    }
}

impl platform_service::periodic::Pass for Compensator {
    async fn run_pass(&self) -> anyhow::Result<bool> {
        let batch = (self.policy.max_concurrency * 2) as i64;
        // Claiming pushes next_attempt_at forward (a lease): another instance will not pick
        // the same row, and if this process dies mid-call the row comes due again by itself.
        let due = Compensation::find_by_statement(raw_sql!(
            Postgres,
            r#"UPDATE compensations SET next_attempt_at = now() + interval '60 seconds', updated_at = now()
               WHERE id IN (SELECT id FROM compensations
                            WHERE status = 'pending' AND next_attempt_at <= now()
                            ORDER BY next_attempt_at LIMIT {batch}
                            FOR UPDATE SKIP LOCKED)
               RETURNING id, order_id, kind, status, attempts, next_attempt_at, last_error, correlation_id,
                         created_at, updated_at"#
        ))
        .all(&self.db)
        .await?;
        let full = due.len() as i64 == batch;
        stream::iter(due)
            .for_each_concurrent(self.policy.max_concurrency, |c| async move {
                if let Err(e) = self.execute(&c).await {
                    tracing::warn!(compensation = %c.id, error = %e, "recording a compensation result failed");
                }
            })
            .await;
        Ok(full)
    }
}

pub async fn list(
    db: &DatabaseConnection,
    status: Option<CompensationStatus>,
) -> Result<Vec<Compensation>, OrderError> {
    let status = status.map(CompensationStatus::as_str);
    Ok(Compensation::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT id, order_id, kind, status, attempts, next_attempt_at, last_error, correlation_id, created_at, updated_at
           FROM compensations
           WHERE ({status}::text IS NULL OR status = {status})
           ORDER BY created_at DESC LIMIT 200"#
    ))
    .all(db)
    .await?)
}

/// Operator action: put a parked compensation back in the queue, with fresh attempts, and
/// tell it on the order's timeline in the same transaction (the worker may run the retry
/// at once; its outcome must not appear on the timeline before the operator's retry does).
pub async fn retry_parked(db: &DatabaseConnection, id: Uuid) -> Result<Option<Compensation>, OrderError> {
    let txn = db.begin().await?;
    let Some(compensation) = Compensation::find_by_statement(raw_sql!(
        Postgres,
        r#"UPDATE compensations SET status = 'pending', attempts = 0, next_attempt_at = now(), updated_at = now()
           WHERE id = {id} AND status = 'parked'
           RETURNING id, order_id, kind, status, attempts, next_attempt_at, last_error, correlation_id,
                     created_at, updated_at"#
    ))
    .one(&txn)
    .await?
    else {
        return Ok(None);
    };
    orders::record(
        &txn,
        compensation.order_id,
        compensation.kind.as_str(),
        "retried_by_operator",
        None,
        "operator",
        &compensation.correlation_id,
    )
    .await?;
    txn.commit().await?;
    Ok(Some(compensation))
}
