//! The broker topology, declared by code at start-up (idempotent declarations: every
//! instance declares, the first creates, the rest confirm).
//!
//! ```text
//!  platform.events (topic) ──order.confirmed──▶ inventory.order-events ──▶ consumer
//!                                                  │ ▲
//!            handler failed (transient) ───publish─┘ │ TTL expires, back to the queue
//!                                   inventory.order-events.retry.{1,2,3}  (1 s, 5 s, 30 s)
//!            poison, or out of retries ──▶ inventory.order-events.dlq  (listed, replayable)
//! ```
//!
//! Main queues are classic durable queues: the broker reports the timestamp of the message
//! at their head, which is how the queue monitor knows the *oldest message's age* even while
//! the consumers are stopped (quorum queues do not report it). A message that crashes its
//! consumer before it can be acknowledged is still bounded: the consumer counts
//! redeliveries (see `consumer/routing.rs`) and dead-letters it after [`DELIVERY_LIMIT`].

use std::time::Duration;

use lapin::{
    Channel, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, LongString},
};
use platform_contracts::EXCHANGE;

/// Redeliveries of one message (deliveries that were never acknowledged) before the
/// consumer dead-letters it.
pub const DELIVERY_LIMIT: i32 = 5;

pub fn retry_queue(queue: &str, level: usize) -> String {
    format!("{queue}.retry.{}", level + 1)
}

pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dlq")
}

fn args(pairs: &[(&str, AMQPValue)]) -> FieldTable {
    let mut table = FieldTable::default();
    for (k, v) in pairs {
        table.insert((*k).into(), v.clone());
    }
    table
}

fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.to_string()))
}

pub async fn declare_exchange(channel: &Channel) -> lapin::Result<()> {
    channel
        .exchange_declare(
            EXCHANGE.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
}

/// Declares a consumer's queue, its bindings, its retry queues and its dead-letter queue.
pub async fn declare_queue(
    channel: &Channel,
    queue: &str,
    bindings: &[&str],
    retry_delays: &[Duration],
) -> lapin::Result<()> {
    declare_exchange(channel).await?;
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let dlq = dead_letter_queue(queue);
    channel
        .queue_declare(dlq.as_str().into(), durable, FieldTable::default())
        .await?;
    channel
        .queue_declare(
            queue.into(),
            durable,
            args(&[
                ("x-dead-letter-exchange", text("")),
                ("x-dead-letter-routing-key", text(&dlq)),
            ]),
        )
        .await?;
    for key in bindings {
        channel
            .queue_bind(
                queue.into(),
                EXCHANGE.into(),
                (*key).into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    // A retry queue has no consumer: messages wait out its TTL, then the broker
    // dead-letters them back into the main queue through the default exchange.
    for (level, delay) in retry_delays.iter().enumerate() {
        channel
            .queue_declare(
                retry_queue(queue, level).as_str().into(),
                durable,
                args(&[
                    ("x-message-ttl", AMQPValue::LongLongInt(delay.as_millis() as i64)),
                    ("x-dead-letter-exchange", text("")),
                    ("x-dead-letter-routing-key", text(queue)),
                ]),
            )
            .await?;
    }
    Ok(())
}
