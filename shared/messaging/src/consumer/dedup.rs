//! Effects exactly once under at-least-once delivery: an event's effect and its
//! deduplication record (`(consumer, event_id)` in `processed_events`) commit in one
//! transaction, so an event published twice or redelivered after a lost ack hits the
//! primary key and is acknowledged without a second effect, and a failure before the
//! commit leaves neither. The record also keeps the event's aggregate and correlation ids,
//! which the order journey reads (`GET /processed-events`).

use platform_contracts::Envelope;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, TransactionTrait, raw_sql};

use super::{HandlerError, Inner, Outcome};

impl Inner {
    /// The effect and its deduplication record, in one transaction.
    pub(super) async fn apply(&self, envelope: &Envelope) -> Outcome {
        if let Err(e) = self.faults.inject("consume").await {
            return Outcome::Retry(e.message);
        }
        match self.apply_once(envelope).await {
            Ok(true) => Outcome::Applied,
            Ok(false) => Outcome::Duplicate,
            Err(HandlerError::Transient(reason)) => Outcome::Retry(reason),
            Err(HandlerError::Permanent(reason)) => Outcome::DeadLetter(reason),
        }
    }

    async fn apply_once(&self, envelope: &Envelope) -> Result<bool, HandlerError> {
        let txn = self.db.begin().await?;
        let first = !self.record_processed(&txn, &[envelope]).await?.is_empty();
        if !first {
            txn.rollback().await?;
            return Ok(false);
        }
        self.read(envelope)?;
        self.handler.handle(&txn, envelope).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Inserts the events' deduplication records, all in one statement, and returns the ids
    /// of those that were not there yet: the events to apply.
    pub(super) async fn record_processed(
        &self,
        txn: &DatabaseTransaction,
        envelopes: &[&Envelope],
    ) -> Result<std::collections::HashSet<uuid::Uuid>, DbErr> {
        let consumer = self.spec.name;
        let rows: serde_json::Value = envelopes
            .iter()
            .map(|e| {
                serde_json::json!({
                    "event_id": e.event_id,
                    "event_type": e.event_type,
                    "aggregate_id": e.aggregate_id,
                    "correlation_id": e.correlation_id.as_str(),
                    "occurred_at": e.occurred_at,
                })
            })
            .collect();
        let inserted = txn
            .query_all_raw(raw_sql!(
                Postgres,
                r#"INSERT INTO processed_events (consumer, event_id, event_type, aggregate_id, correlation_id, occurred_at)
                   SELECT {consumer}, event_id, event_type, aggregate_id, correlation_id, occurred_at
                   FROM jsonb_to_recordset({rows})
                        AS e(event_id uuid, event_type text, aggregate_id text, correlation_id text, occurred_at timestamptz)
                   ON CONFLICT (consumer, event_id) DO NOTHING
                   RETURNING event_id"#
            ))
            .await?;
        inserted
            .iter()
            .map(|row| row.try_get::<uuid::Uuid>("", "event_id"))
            .collect()
    }
}
