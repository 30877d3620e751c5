//! Where a handled message goes: acknowledged when it was applied or is a duplicate,
//! re-published to the retry queue of its level after a transient failure, to the
//! dead-letter queue after a permanent one or the last retry. This is what keeps a queue
//! flowing: a failing message is moved out of the way instead of blocking the ones behind
//! it, and the original is acknowledged only once its copy is confirmed, so it is not lost
//! in between. Redeliveries are counted here too, so that a message that crashes the
//! consumer every time ends in the dead-letter queue instead of in a crash loop.

use lapin::{Channel, message::Delivery, options::BasicAckOptions, types::AMQPValue};
use platform_contracts::Envelope;
use platform_runtime::crash;
use sea_orm::{ConnectionTrait, raw_sql};
use tracing::Instrument;

use super::Inner;
use crate::{publish, topology};

pub(super) enum Outcome {
    Applied,
    Duplicate,
    Retry(String),
    DeadLetter(String),
}

impl Inner {
    /// Acknowledges a handled delivery, after scheduling its retry or dead-lettering it
    /// when that is its outcome.
    pub(super) async fn settle(
        &self,
        channel: &Channel,
        delivery: &Delivery,
        outcome: Outcome,
        retries: u32,
        started: std::time::Instant,
        span: tracing::Span,
    ) {
        metrics::histogram!("consumer_handle_seconds", "consumer" => self.spec.name)
            .record(started.elapsed().as_secs_f64());
        let settled = async {
            match outcome {
                Outcome::Applied => {
                    metrics::counter!("consumer_messages_total", "consumer" => self.spec.name, "outcome" => "handled").increment(1);
                    tracing::info!("event handled");
                    // The effect is committed and the message not yet acknowledged: the
                    // redelivery after a crash here must be recognised as a duplicate.
                    crash::point("consumer.after_commit");
                }
                Outcome::Duplicate => {
                    metrics::counter!("consumer_messages_total", "consumer" => self.spec.name, "outcome" => "duplicate").increment(1);
                    tracing::info!("duplicate event acknowledged without effect");
                }
                Outcome::Retry(reason) if retries < self.spec.max_retries => {
                    let level = (retries as usize).min(self.spec.retry_delays.len() - 1);
                    let queue = topology::retry_queue(&self.spec.queue, level);
                    let props = publish::with_headers(
                        &delivery.properties,
                        &[
                            ("x-retries", AMQPValue::LongLongInt(retries as i64 + 1)),
                            ("x-last-error", publish::text(&reason)),
                        ],
                    );
                    if let Err(e) =
                        publish::publish_confirmed(channel, "", &queue, &delivery.data, props).await
                    {
                        // Not acknowledged: the broker redelivers it (bounded by the delivery limit).
                        tracing::warn!(error = %e, "could not schedule a retry");
                        return;
                    }
                    metrics::counter!("consumer_messages_total", "consumer" => self.spec.name, "outcome" => "retried").increment(1);
                    tracing::warn!(reason = %reason, attempt = retries + 1, "event failed; retry scheduled");
                }
                Outcome::Retry(reason) => {
                    let reason = format!("gave up after {} retries: {reason}", self.spec.max_retries);
                    if !self.dead_letter(channel, delivery, &reason, retries).await {
                        return;
                    }
                }
                Outcome::DeadLetter(reason) => {
                    if !self.dead_letter(channel, delivery, &reason, retries).await {
                        return;
                    }
                }
            }
            if let Err(e) = delivery.acker.ack(BasicAckOptions::default()).await {
                tracing::warn!(error = %e, "ack failed; the event will be redelivered and deduplicated");
            }
        };
        settled.instrument(span).await;
    }

    async fn dead_letter(&self, channel: &Channel, delivery: &Delivery, reason: &str, retries: u32) -> bool {
        let queue = topology::dead_letter_queue(&self.spec.queue);
        let props = publish::with_headers(
            &delivery.properties,
            &[
                ("x-death-reason", publish::text(reason)),
                (
                    "x-dead-lettered-at",
                    publish::text(&chrono::Utc::now().to_rfc3339()),
                ),
                ("x-retries", AMQPValue::LongLongInt(retries as i64)),
                ("x-original-queue", publish::text(&self.spec.queue)),
            ],
        );
        match publish::publish_confirmed(channel, "", &queue, &delivery.data, props).await {
            Ok(()) => {
                metrics::counter!("consumer_messages_total", "consumer" => self.spec.name, "outcome" => "dead_lettered").increment(1);
                tracing::error!(alert = "dead_letter", reason, queue = %queue, "event dead-lettered");
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not dead-letter; leaving it for redelivery");
                false
            }
        }
    }

    /// A redelivery means an earlier delivery was never acknowledged: maybe a restart,
    /// maybe this very message crashes the consumer. Count it (committed on its own, so a
    /// crash cannot undo the count) and give up past the limit.
    pub(super) async fn count_redelivery(&self, envelope: &Envelope) -> Option<Outcome> {
        let (consumer, id) = (self.spec.name, envelope.event_id);
        let counted = self
            .db
            .query_one_raw(raw_sql!(
                Postgres,
                r#"INSERT INTO redeliveries (consumer, event_id, count) VALUES ({consumer}, {id}, 1)
                   ON CONFLICT (consumer, event_id) DO UPDATE SET count = redeliveries.count + 1, last_at = now()
                   RETURNING count"#
            ))
            .await;
        let count: i32 = counted
            .ok()
            .flatten()
            .and_then(|row| row.try_get("", "count").ok())?;
        (count > topology::DELIVERY_LIMIT).then(|| {
            Outcome::DeadLetter(format!(
                "redelivered {count} times without an acknowledgement (does handling crash the consumer?)"
            ))
        })
    }
}
