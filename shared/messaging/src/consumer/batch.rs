//! Events that arrive together share one transaction: one `processed_events` insert and one
//! commit for the batch instead of one of each per event, because every commit is a WAL
//! flush and two round trips. The guarantees stay those of a single event: the effects and
//! their records commit together, the messages are acknowledged after the commit, and when
//! anything in the batch fails, it all rolls back and its events are handled again one by
//! one, so that one bad event does not take the others down with it.

use lapin::{Channel, message::Delivery};
use platform_contracts::Envelope;
use sea_orm::TransactionTrait;
use tracing::Instrument;

use super::{HandlerError, Inner, Outcome};

impl Inner {
    /// Handles a batch of deliveries in one transaction when it can, one by one otherwise.
    pub(super) async fn process_batch(&self, channel: &Channel, deliveries: Vec<Delivery>) {
        let started = std::time::Instant::now();
        // Only plain first deliveries of well-formed envelopes share a transaction. The
        // rest go the single path: a redelivery is counted first (crash-loop guard), a
        // malformed message is dead-lettered, and an armed fault switch must fire per event.
        let faulted = self.faults.armed("consume").await;
        let (mut batch, mut single) = (Vec::new(), Vec::new());
        for delivery in deliveries {
            match Envelope::from_bytes(&delivery.data) {
                Ok(envelope) if !delivery.redelivered && !faulted => batch.push((delivery, envelope)),
                _ => single.push(delivery),
            }
        }
        if batch.len() == 1 {
            single.extend(batch.drain(..).map(|(delivery, _)| delivery));
        }
        if !batch.is_empty() {
            let spans: Vec<_> = batch.iter().map(|(d, e)| self.span(d, e)).collect();
            match self.apply_batch(&batch, &spans).await {
                Ok(applied) => {
                    for (((delivery, envelope), span), applied) in batch.iter().zip(spans).zip(applied) {
                        self.observe_lag(envelope);
                        let outcome = if applied {
                            Outcome::Applied
                        } else {
                            Outcome::Duplicate
                        };
                        self.settle(channel, delivery, outcome, 0, started, span).await;
                    }
                }
                Err(e) => {
                    // Nothing of the batch was committed. Handle each event on its own, so
                    // the failure lands on the event that causes it (retried or
                    // dead-lettered) and the others are applied.
                    tracing::info!(consumer = self.spec.name, events = batch.len(), error = ?e, "batch failed; handling its events one by one");
                    single.extend(batch.into_iter().map(|(delivery, _)| delivery));
                }
            }
        }
        for delivery in single {
            self.process(channel, delivery).await;
        }
    }

    /// The batch's effects and deduplication records in one transaction. Returns, for each
    /// event, whether it was applied (`false`: processed before, or earlier in this batch).
    async fn apply_batch(
        &self,
        batch: &[(Delivery, Envelope)],
        spans: &[tracing::Span],
    ) -> Result<Vec<bool>, HandlerError> {
        let txn = self.db.begin().await?;
        let envelopes: Vec<&Envelope> = batch.iter().map(|(_, e)| e).collect();
        let mut new = self.record_processed(&txn, &envelopes).await?;
        let mut applied = Vec::with_capacity(batch.len());
        for (envelope, span) in envelopes.iter().zip(spans) {
            // `remove`: the same event twice in one batch takes effect once.
            let first = new.remove(&envelope.event_id);
            if first {
                self.read(envelope)?;
                self.handler
                    .handle(&txn, envelope)
                    .instrument(span.clone())
                    .await?;
            }
            applied.push(first);
        }
        txn.commit().await?;
        Ok(applied)
    }
}
