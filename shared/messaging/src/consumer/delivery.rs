//! The delivery loop: connect, declare the queue (with its retry and dead-letter queues),
//! consume, and hand each delivery to the batch path or the single one. It is built so that
//! consuming does not stop for good: a lost broker connection, or a panic while handling a
//! message, ends one session, and the loop starts the next after a growing delay. Each
//! event is handled in a span that carries its ids and joins the checkout's trace.

use std::{sync::Arc, time::Duration};

use futures_util::{StreamExt, future::BoxFuture};
use lapin::{
    Channel,
    message::Delivery,
    options::{BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions},
    types::FieldTable,
};
use platform_contracts::Envelope;
use platform_runtime::supervisor;
use tracing::Instrument;

use super::{Inner, Outcome};
use crate::{publish, topology};

impl Inner {
    /// Connect, declare, consume; on any broker failure, or a panic while handling a
    /// message, wait and start again. A panic drops the channel, and with it every
    /// unacknowledged delivery, which the broker then redelivers (counted as a redelivery,
    /// so a message that panics every time ends in the dead-letter queue, not in a loop).
    pub(super) async fn run(self: Arc<Self>) {
        let actor = format!("consumer:{}", self.spec.name);
        let mut delay = Duration::from_millis(200);
        loop {
            match supervisor::guard(&actor, self.consume()).await {
                Ok(Ok(())) => delay = Duration::from_millis(200),
                Ok(Err(e)) => {
                    tracing::warn!(consumer = self.spec.name, error = %e, retry_in_ms = delay.as_millis() as u64, "consumer interrupted");
                    supervisor::restarted(&actor);
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(_) => delay = (delay * 2).min(Duration::from_secs(5)), // logged and counted by the guard
            }
            tokio::time::sleep(delay).await;
        }
    }

    async fn consume(&self) -> anyhow::Result<()> {
        let mut paused = self.paused.clone();
        while paused.borrow_and_update().any() {
            paused.changed().await?;
        }
        let channel = self
            .broker
            .connected(Duration::from_secs(3600))
            .await?
            .create_channel()
            .await?;
        topology::declare_queue(
            &channel,
            &self.spec.queue,
            &self.spec.bindings,
            &self.spec.retry_delays,
            self.spec.queue_type,
        )
        .await?;
        // Confirms on this channel: a message is re-published to a retry or dead-letter
        // queue, confirmed, and only then is the original acknowledged. Never both lost.
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        channel
            .basic_qos(self.spec.prefetch, BasicQosOptions::default())
            .await?;
        let tag = format!("{}-{}", self.spec.name, uuid::Uuid::new_v4().simple());
        let consumer = channel
            .basic_consume(
                self.spec.queue.as_str().into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        tracing::info!(consumer = self.spec.name, queue = %self.spec.queue, "consuming");
        let prefetch = self.spec.prefetch as usize;
        let work: BoxFuture<'_, ()> = if self.handler.batchable() {
            // Whatever has arrived, up to the prefetch, as one batch; one batch at a time,
            // so two batches of this consumer never hold locks the other wants.
            Box::pin(consumer.ready_chunks(prefetch).for_each(|deliveries| {
                let channel = channel.clone();
                async move {
                    let deliveries = deliveries
                        .into_iter()
                        .filter_map(|delivery| {
                            delivery
                                .map_err(|e| tracing::warn!(consumer = self.spec.name, error = %e, "delivery error"))
                                .ok()
                        })
                        .collect();
                    self.process_batch(&channel, deliveries).await
                }
            }))
        } else {
            Box::pin(consumer.for_each_concurrent(prefetch, |delivery| {
                let channel = channel.clone();
                async move {
                    match delivery {
                        Ok(delivery) => self.process(&channel, delivery).await,
                        Err(e) => tracing::warn!(consumer = self.spec.name, error = %e, "delivery error"),
                    }
                }
            }))
        };
        tokio::select! {
            _ = work => anyhow::bail!("the broker ended the consumer"),
            _ = async { while !paused.borrow_and_update().any() { if paused.changed().await.is_err() { break; } } } => {
                tracing::info!(consumer = self.spec.name, "consumer paused");
                let _ = channel.close(200, "paused".into()).await;
                Ok(())
            }
        }
    }

    /// The span of one event: every log line of its handling carries its ids.
    pub(super) fn span(&self, delivery: &Delivery, envelope: &Envelope) -> tracing::Span {
        let span = tracing::info_span!(
            "consume",
            consumer = self.spec.name,
            event_id = %envelope.event_id,
            event_type = %envelope.event_type,
            correlation_id = %envelope.correlation_id,
        );
        // Join the checkout's trace, if it was exported (W3C headers from the relay).
        let trace: std::collections::HashMap<String, String> = ["traceparent", "tracestate"]
            .iter()
            .filter_map(|k| Some((k.to_string(), publish::header(&delivery.properties, k)?)))
            .collect();
        platform_telemetry::otel::continue_trace(&span, &trace);
        span
    }

    pub(super) fn observe_lag(&self, envelope: &Envelope) {
        let lag = (chrono::Utc::now() - envelope.occurred_at)
            .num_milliseconds()
            .max(0) as f64
            / 1000.0;
        metrics::histogram!("consumer_lag_seconds", "consumer" => self.spec.name).record(lag);
    }

    pub(super) async fn process(&self, channel: &Channel, delivery: Delivery) {
        let retries: u32 = publish::header(&delivery.properties, "x-retries")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let started = std::time::Instant::now();
        let (outcome, span) = match Envelope::from_bytes(&delivery.data) {
            Err(e) => (
                Outcome::DeadLetter(e.to_string()),
                tracing::info_span!("consume", consumer = self.spec.name),
            ),
            Ok(envelope) => {
                let span = self.span(&delivery, &envelope);
                let outcome = if delivery.redelivered {
                    self.count_redelivery(&envelope).instrument(span.clone()).await
                } else {
                    None
                };
                let outcome = match outcome {
                    Some(outcome) => outcome,
                    None => self.apply(&envelope).instrument(span.clone()).await,
                };
                self.observe_lag(&envelope);
                (outcome, span)
            }
        };
        self.settle(channel, &delivery, outcome, retries, started, span)
            .await;
    }
}
