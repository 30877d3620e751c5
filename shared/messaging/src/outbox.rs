//! The transactional outbox and its relay.
//!
//! The dual-write failure: save the order, then publish "order confirmed". If the publish
//! fails, or the process dies between the two, the order exists, the API said 201, and
//! inventory, payment, email and analytics never hear of it. Nothing is retried, because
//! nothing remembers.
//!
//! The fix: [`enqueue`] writes the event into the `outbox` table *in the same transaction*
//! as the business change; both commit or neither does. The [`Relay`] then publishes
//! committed rows to RabbitMQ, waits for the broker's confirms, and only then marks them
//! published. If it crashes between the confirm and the mark, the row is published again:
//! delivery is at least once, which is why every consumer is idempotent.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use actix::Addr;
use futures_util::future::try_join_all;
use lapin::{Channel, options::ConfirmSelectOptions};
use platform_broker::Broker;
use platform_contracts::{EXCHANGE, Envelope};
use platform_runtime::{crash, supervisor};
use platform_service::periodic::{Periodic, Wake};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbErr, FromQueryResult, TransactionTrait, raw_sql,
    sqlx::postgres::PgListener,
};
use tokio::sync::Mutex as AsyncMutex;

use crate::publish;

/// Writes an event to the outbox, inside the caller's transaction.
pub async fn enqueue(txn: &impl ConnectionTrait, envelope: &Envelope) -> Result<(), DbErr> {
    let (id, kind, aggregate, correlation) = (
        envelope.event_id,
        envelope.event_type.as_str(),
        envelope.aggregate_id.as_str(),
        envelope.correlation_id.as_str(),
    );
    let body = serde_json::to_value(envelope).expect("envelopes always serialise");
    // The trace this event was born in (empty unless trace export is on).
    let trace = serde_json::to_value(platform_telemetry::otel::trace_headers()).unwrap_or_default();
    txn.execute_raw(raw_sql!(
        Postgres,
        r#"INSERT INTO outbox (event_id, event_type, aggregate_id, correlation_id, envelope, trace_context)
           VALUES ({id}, {kind}, {aggregate}, {correlation}, {body}, {trace})"#
    ))
    .await?;
    Ok(())
}

#[derive(Debug, FromQueryResult)]
struct Row {
    id: i64,
    event_type: String,
    envelope: serde_json::Value,
    trace_context: serde_json::Value,
}

#[derive(Clone)]
pub struct Relay {
    db: DatabaseConnection,
    broker: Broker,
    batch: i64,
    retention: Duration,
    channel: Arc<AsyncMutex<Option<Channel>>>,
    backoff: Arc<Mutex<Backoff>>,
}

#[derive(Default)]
struct Backoff {
    failures: u32,
    not_before: Option<Instant>,
}

impl Relay {
    pub fn new(db: DatabaseConnection, broker: Broker, batch: i64, retention: Duration) -> Self {
        Self {
            db,
            broker,
            batch,
            retention,
            channel: Arc::default(),
            backoff: Arc::default(),
        }
    }

    /// Stops publishing (the demo's "broker unreachable" switch): events accumulate in the
    /// outbox exactly as they would during a broker outage, and drain when resumed. The
    /// switch is a row in the outbox's database (`outbox_relay`), so it stops the relay of
    /// every instance at once.
    pub async fn set_paused(&self, paused: bool) -> Result<(), DbErr> {
        self.db
            .execute_raw(raw_sql!(
                Postgres,
                r#"INSERT INTO outbox_relay (singleton, paused) VALUES (TRUE, {paused})
                   ON CONFLICT (singleton) DO UPDATE SET paused = EXCLUDED.paused, changed_at = now()"#
            ))
            .await?;
        tracing::warn!(paused, "outbox relay switched by an operator");
        Ok(())
    }

    pub async fn is_paused(&self) -> Result<bool, DbErr> {
        let row = self
            .db
            .query_one_raw(raw_sql!(
                Postgres,
                r#"SELECT EXISTS (SELECT 1 FROM outbox_relay WHERE paused) AS paused"#
            ))
            .await?;
        Ok(match row {
            Some(row) => row.try_get("", "paused")?,
            None => false,
        })
    }

    async fn publish_batch(&self) -> anyhow::Result<usize> {
        let batch = self.batch;
        let txn = self.db.begin().await?;
        // SKIP LOCKED: several relays (one per instance) share the outbox, each claiming
        // different rows; the lock lasts only while this batch is being confirmed. A paused
        // relay claims nothing: the switch is read in the same statement, at no extra cost.
        let rows = Row::find_by_statement(raw_sql!(
            Postgres,
            r#"SELECT id, event_type, envelope, trace_context FROM outbox
               WHERE published_at IS NULL AND NOT EXISTS (SELECT 1 FROM outbox_relay WHERE paused)
               ORDER BY id LIMIT {batch}
               FOR UPDATE OF outbox SKIP LOCKED"#
        ))
        .all(&txn)
        .await?;
        if rows.is_empty() {
            txn.commit().await?;
            return Ok(0);
        }
        let channel = self.channel().await?;
        let publishes = rows.iter().map(|row| {
            let channel = &channel;
            async move {
                let envelope: Envelope = serde_json::from_value(row.envelope.clone())?;
                let body = serde_json::to_vec(&envelope)?;
                // The trace this event was born in travels in the message headers.
                let trace: Vec<(&str, lapin::types::AMQPValue)> = row
                    .trace_context
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(k, v)| Some((k.as_str(), publish::text(v.as_str()?))))
                    .collect();
                let properties = publish::with_headers(&publish::properties(&envelope), &trace);
                publish::publish_confirmed(channel, EXCHANGE, &row.event_type, &body, properties).await
            }
        });
        tokio::time::timeout(Duration::from_secs(10), try_join_all(publishes))
            .await
            .map_err(|_| anyhow::anyhow!("no publisher confirms within 10 s"))??;
        // Confirmed by the broker, not yet marked: a crash here publishes them again.
        crash::point("relay.after_publish");
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        txn.execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "UPDATE outbox SET published_at = clock_timestamp(), attempts = attempts + 1 WHERE id = ANY($1)",
            [ids.into()],
        ))
        .await?;
        txn.commit().await?;
        metrics::counter!("outbox_published_total").increment(rows.len() as u64);
        Ok(rows.len())
    }

    async fn channel(&self) -> anyhow::Result<Channel> {
        let mut slot = self.channel.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| c.status().connected()) {
            return Ok(c.clone());
        }
        let channel = self.broker.channel().await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        crate::topology::declare_exchange(&channel).await?;
        *slot = Some(channel.clone());
        Ok(channel)
    }

    /// Published rows are kept for a while (to inspect, or to answer "when was this
    /// published?"), then deleted so the table stays small.
    async fn delete_published(&self) -> Result<(), DbErr> {
        let secs = self.retention.as_secs() as i64;
        self.db
            .execute_raw(raw_sql!(
                Postgres,
                r#"DELETE FROM outbox WHERE id IN (
                       SELECT id FROM outbox WHERE published_at < now() - {secs} * interval '1 second' LIMIT 1000)"#
            ))
            .await?;
        Ok(())
    }
}

impl platform_service::periodic::Pass for Relay {
    /// One pass: publish a batch of unpublished rows. `Ok(true)` when there may be more.
    async fn run_pass(&self) -> anyhow::Result<bool> {
        if let Some(t) = self.backoff.lock().expect("backoff lock").not_before
            && Instant::now() < t
        {
            return Ok(false);
        }
        match self.publish_batch().await {
            Ok(n) => {
                *self.backoff.lock().expect("backoff lock") = Backoff::default();
                if n == 0 {
                    self.delete_published().await?;
                }
                Ok(n as i64 == self.batch)
            }
            Err(e) => {
                // The broker is down, refused, or had no queue for an event (see
                // `publish_confirmed`): drop the channel, wait longer each time (capped), and
                // retry. The rows stay in the outbox; nothing is lost. The batch's events that
                // did reach their queues go again: consumers deduplicate them.
                *self.channel.lock().await = None;
                let mut b = self.backoff.lock().expect("backoff lock");
                b.failures += 1;
                let wait =
                    Duration::from_millis(200 * 2u64.pow(b.failures.min(6))).min(Duration::from_secs(10));
                b.not_before = Some(Instant::now() + wait);
                metrics::counter!("outbox_publish_failures_total").increment(1);
                Err(e.context(format!("outbox relay; retrying in {} ms", wait.as_millis())))
            }
        }
    }
}

/// Wakes the relay on `NOTIFY outbox` (sent by a trigger when a transaction that wrote
/// outbox rows commits), so events leave within milliseconds instead of at the next poll.
/// The poll remains as the fallback: a missed notification only delays, never loses.
///
/// The listener has its own connection (not one borrowed from the service's pool, which
/// it would hold forever).
pub fn listen(database_url: String, relay: Addr<Periodic>) {
    // Supervised: a lost connection (or a panic) restarts the loop after a backoff. It
    // ends only when the relay is gone (the service is shutting down).
    supervisor::supervise("outbox-listener", move || {
        let (database_url, relay) = (database_url.clone(), relay.clone());
        async move {
            let mut listener = PgListener::connect(&database_url).await?;
            listener.listen("outbox").await?;
            while relay.connected() {
                listener.recv().await?;
                relay.do_send(Wake);
            }
            Ok(())
        }
    });
}
