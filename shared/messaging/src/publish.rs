//! How an event goes on the wire: the envelope as the JSON body, mirrored in the AMQP
//! properties so that brokers, tools and consumers can route, trace and deduplicate
//! without parsing the body.

use lapin::{
    BasicProperties, Channel,
    options::BasicPublishOptions,
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use platform_contracts::Envelope;

pub fn properties(envelope: &Envelope) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        "schema_version".into(),
        AMQPValue::LongLongInt(envelope.schema_version as i64),
    );
    headers.insert("aggregate_id".into(), text(&envelope.aggregate_id));
    if let Some(causation) = &envelope.causation_id {
        headers.insert("causation_id".into(), text(causation));
    }
    BasicProperties::default()
        .with_message_id(envelope.event_id.to_string().into())
        .with_correlation_id(envelope.correlation_id.as_str().into())
        .with_type(envelope.event_type.as_str().into())
        .with_app_id(envelope.producer.as_str().into())
        .with_timestamp(envelope.occurred_at.timestamp().max(0) as u64)
        .with_content_type("application/json".into())
        // persistent: a broker restart does not lose queued events
        .with_delivery_mode(2)
        .with_headers(headers)
}

pub fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.to_string()))
}

/// Reads a header as text or number, whatever AMQP type it arrived as.
pub fn header(properties: &BasicProperties, name: &str) -> Option<String> {
    let headers = properties.headers().as_ref()?;
    let value = headers.inner().get(&ShortString::from(name))?;
    Some(match value {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::ShortString(s) => s.as_str().to_string(),
        AMQPValue::LongLongInt(n) => n.to_string(),
        AMQPValue::LongInt(n) => n.to_string(),
        AMQPValue::LongUInt(n) => n.to_string(),
        AMQPValue::ShortInt(n) => n.to_string(),
        other => format!("{other:?}"),
    })
}

/// Returns `properties` with `headers` set (others kept).
pub fn with_headers(properties: &BasicProperties, set: &[(&str, AMQPValue)]) -> BasicProperties {
    let mut headers = properties.headers().clone().unwrap_or_default();
    for (k, v) in set {
        headers.insert((*k).into(), v.clone());
    }
    properties.clone().with_headers(headers)
}

/// Publishes and waits for the broker's confirm. Only a confirmed message may be
/// considered sent (and its outbox row, or the delivery it replaces, let go).
///
/// `mandatory`: a message that reaches no queue is returned, and that is an error here. A
/// broker confirms a message it could not route as readily as one it stored, so without it
/// an event published while no queue is bound (a broker that lost its definitions, a queue
/// deleted by mistake, the relay reconnecting before any consumer has declared its queue)
/// would be confirmed, marked published and lost. With it the outbox row stays and the
/// relay tries again; a retry or a dead letter that finds no queue is not acknowledged and
/// comes back. What `mandatory` cannot see: a message routed to some queues but not all
/// (one consumer's queue missing); durable queues that survive restarts (and quorum queues
/// in the HA stack) are what protect against that.
pub async fn publish_confirmed(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    properties: BasicProperties,
) -> anyhow::Result<()> {
    let confirm = channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            body,
            properties,
        )
        .await?
        .await?;
    anyhow::ensure!(
        !confirm.is_nack(),
        "the broker refused (nack) a message for {routing_key}"
    );
    if let Some(returned) = confirm.take_message() {
        anyhow::bail!(
            "the broker could not route a message for {routing_key:?} to any queue ({} {})",
            returned.reply_code,
            returned.reply_text
        );
    }
    Ok(())
}
