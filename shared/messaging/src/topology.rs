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
//! The queues' type comes from configuration ([`QueueType`], `BROKER_QUEUE_TYPE`):
//!
//! - **classic** (the single-node stack): durable queues on the one node. The broker reports
//!   the timestamp of the message at their head, which is how the queue monitor knows the
//!   *oldest message's age* even while the consumers are stopped.
//! - **quorum** (the HA stack, `./dev up --ha`): each queue is a Raft group replicated to
//!   every node of the cluster; a message is confirmed to the publisher only once a majority
//!   has it, so killing the node that leads the queue loses nothing that was confirmed, and a
//!   follower takes over. The price: more disk and network per message, and the management
//!   API gives no head-message timestamp (the oldest age shows as unknown, docs/ha.md).
//!
//! A message that crashes its consumer before it can be acknowledged is still bounded: the
//! consumer counts redeliveries (see `consumer/routing.rs`) and dead-letters it after
//! [`DELIVERY_LIMIT`].

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

/// How the consumers' queues are replicated (`BROKER_QUEUE_TYPE`: `classic` or `quorum`).
/// A queue's type is fixed when it is created: a broker that already holds a classic queue
/// of the same name refuses the quorum declaration (PRECONDITION_FAILED), so a stack is
/// either one or the other from its first start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueType {
    #[default]
    Classic,
    Quorum,
}

impl std::str::FromStr for QueueType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "classic" => Ok(Self::Classic),
            "quorum" => Ok(Self::Quorum),
            other => Err(format!("expected classic or quorum, not {other:?}")),
        }
    }
}

impl QueueType {
    /// The arguments every queue of this type is declared with, before its own.
    fn arguments(self) -> Vec<(&'static str, AMQPValue)> {
        match self {
            Self::Classic => Vec::new(),
            Self::Quorum => vec![("x-queue-type", text("quorum"))],
        }
    }

    /// The arguments of a queue whose rejected or expired messages go to `target` (the main
    /// queue's to its dead-letter queue, a retry queue's back to the main queue), this type's
    /// first. A quorum queue dead-letters *at most once* unless told otherwise: a message
    /// expiring while the target's leader is being elected would be dropped, i.e. a retried
    /// event lost in a failover. At-least-once dead-lettering keeps it until the target
    /// confirms it (RabbitMQ requires reject-publish overflow for that).
    fn dead_lettering_into(self, target: &str) -> Vec<(&'static str, AMQPValue)> {
        let mut arguments = self.arguments();
        if self == Self::Quorum {
            arguments.push(("x-dead-letter-strategy", text("at-least-once")));
            arguments.push(("x-overflow", text("reject-publish")));
        }
        arguments.push(("x-dead-letter-exchange", text("")));
        arguments.push(("x-dead-letter-routing-key", text(target)));
        arguments
    }
}

pub fn retry_queue(queue: &str, level: usize) -> String {
    format!("{queue}.retry.{}", level + 1)
}

pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dlq")
}

fn args(pairs: impl IntoIterator<Item = (&'static str, AMQPValue)>) -> FieldTable {
    let mut table = FieldTable::default();
    for (k, v) in pairs {
        table.insert(k.into(), v);
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
    queue_type: QueueType,
) -> lapin::Result<()> {
    declare_exchange(channel).await?;
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let dlq = dead_letter_queue(queue);
    channel
        .queue_declare(dlq.as_str().into(), durable, args(queue_type.arguments()))
        .await?;
    channel
        .queue_declare(queue.into(), durable, args(queue_type.dead_lettering_into(&dlq)))
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
                args(
                    queue_type
                        .dead_lettering_into(queue)
                        .into_iter()
                        .chain([("x-message-ttl", AMQPValue::LongLongInt(delay.as_millis() as i64))]),
                ),
            )
            .await?;
    }
    Ok(())
}
