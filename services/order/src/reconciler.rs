//! The reconciler: finds orders that are not terminal and are due for another attempt (a
//! step timed out, a dependency answered 429, the process handling the checkout died) and
//! drives them on with the same [`Saga::advance`] the checkout uses, until they are
//! confirmed, rejected or cancelled. No order is left half-way for a human to find in the
//! logs: past its deadline, the saga gives up and compensates.

use futures_util::{StreamExt, stream};
use sea_orm::{DatabaseConnection, FromQueryResult, raw_sql};
use uuid::Uuid;

use crate::{idempotency, saga::Saga};

const BATCH: i64 = 50;
const CONCURRENCY: usize = 10;

#[derive(FromQueryResult)]
struct Due {
    id: Uuid,
}

/// The reconciler's pass, on the background pool.
#[derive(Clone)]
pub struct Reconciler {
    pub db: DatabaseConnection,
    pub saga: Saga,
}

impl platform_service::periodic::Pass for Reconciler {
    async fn run_pass(&self) -> anyhow::Result<bool> {
        let (db, saga) = (&self.db, &self.saga);
        // Claim with a lease (next_attempt_at pushed forward) and SKIP LOCKED, so several
        // instances reconcile different orders, and an instance that dies mid-way only delays
        // its orders by the lease.
        let due = Due::find_by_statement(raw_sql!(
            Postgres,
            r#"UPDATE orders SET next_attempt_at = now() + interval '30 seconds'
           WHERE id IN (SELECT id FROM orders
                        WHERE status IN ('pending', 'stock_reserved')
                          AND (next_attempt_at <= now() OR deadline_at <= now())
                        ORDER BY next_attempt_at LIMIT {BATCH}
                        FOR UPDATE SKIP LOCKED)
           RETURNING id"#
        ))
        .all(db)
        .await?;
        let full = due.len() as i64 == BATCH;
        stream::iter(due)
        .for_each_concurrent(CONCURRENCY, |order| async move {
            match saga.advance(order.id, "reconciler").await {
                Ok(o) => {
                    metrics::counter!("order_reconciler_advanced_total", "status" => o.status.as_str()).increment(1);
                    tracing::info!(order_id = %o.id, correlation_id = %o.correlation_id, status = %o.status, "reconciled");
                }
                Err(e) => tracing::warn!(order_id = %order.id, error = %e, "reconciling failed; will retry"),
            }
        })
        .await;
        let purged = idempotency::purge_expired(db).await?;
        if purged > 0 {
            tracing::debug!(purged, "expired idempotency keys deleted");
        }
        Ok(full)
    }
}
