//! Dead letters: listed and replayed through admin endpoints, so a message that could not
//! be processed is a visible, fixable item, not a silent loss in a queue nobody watches.
//!
//! - `GET  /admin/dead-letters`: what is dead-lettered, per queue, with the reason.
//! - `POST /admin/dead-letters/replay` (optionally `?event_id=`): moves messages back to
//!   their queue with a fresh retry budget, once the cause is fixed. Replaying is safe even
//!   if a message had in fact been processed: the consumer deduplicates on the event id.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use lapin::{
    Channel,
    message::BasicGetMessage,
    options::{BasicAckOptions, BasicGetOptions, BasicNackOptions, ConfirmSelectOptions},
    types::AMQPValue,
};
use platform_broker::Broker;
use platform_contracts::ops::{DEAD_LETTERS_PATH, DeadLetter, Replayed};
use platform_http::{Admin, ApiError};
use serde::Deserialize;

use crate::{publish, topology};

#[derive(Clone)]
struct DeadLetters {
    broker: Broker,
    queues: Vec<String>,
}

/// Routes for the dead letters of the given consumer queues.
pub fn routes(broker: Broker, queues: Vec<String>) -> impl Fn(&mut web::ServiceConfig) + Clone {
    let state = DeadLetters { broker, queues };
    move |cfg| {
        cfg.app_data(web::Data::new(state.clone()))
            .route(DEAD_LETTERS_PATH, web::get().to(list))
            .route("/admin/dead-letters/replay", web::post().to(replay));
    }
}

async fn channel(broker: &Broker) -> Result<Channel, ApiError> {
    let channel = broker
        .channel()
        .await
        .map_err(|e| ApiError::unavailable("broker_unavailable", e.to_string(), 2))?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(ApiError::internal)?;
    Ok(channel)
}

/// Takes up to `limit` messages off a queue without acknowledging them. Every message is
/// later acked (moved) or nacked back (left), so nothing is lost if this request dies: the
/// broker requeues unacknowledged messages when the channel closes.
async fn take(channel: &Channel, queue: &str, limit: usize) -> Result<Vec<BasicGetMessage>, ApiError> {
    let mut taken = Vec::new();
    while taken.len() < limit {
        match channel.basic_get(queue.into(), BasicGetOptions::default()).await {
            Ok(Some(message)) => taken.push(message),
            Ok(None) => break,
            Err(e) => return Err(ApiError::internal(e)),
        }
    }
    Ok(taken)
}

/// Returns a message to its dead-letter queue untouched: listing it, skipping it or failing
/// to replay it must never lose it.
async fn put_back(m: &BasicGetMessage) {
    let requeue = BasicNackOptions {
        requeue: true,
        ..Default::default()
    };
    let _ = m.delivery.acker.nack(requeue).await;
}

fn describe(queue: &str, m: &BasicGetMessage) -> DeadLetter {
    let p = &m.delivery.properties;
    DeadLetter {
        queue: queue.to_string(),
        event_id: p.message_id().as_ref().map(|s| s.to_string()),
        event_type: p.kind().as_ref().map(|s| s.to_string()),
        correlation_id: p.correlation_id().as_ref().map(|s| s.to_string()),
        reason: publish::header(p, "x-death-reason").or_else(|| Some("delivery limit reached".into())),
        dead_lettered_at: publish::header(p, "x-dead-lettered-at"),
        retries: publish::header(p, "x-retries"),
        body: String::from_utf8_lossy(&m.delivery.data)
            .chars()
            .take(2000)
            .collect(),
    }
}

async fn list(_: Admin, state: web::Data<DeadLetters>) -> Result<HttpResponse, ApiError> {
    let channel = channel(&state.broker).await?;
    let mut letters = Vec::new();
    for queue in &state.queues {
        let dlq = topology::dead_letter_queue(queue);
        let taken = take(&channel, &dlq, 100).await?;
        letters.extend(taken.iter().map(|m| describe(queue, m)));
        for m in &taken {
            put_back(m).await;
        }
    }
    let _ = channel.close(200, "done".into()).await;
    Ok(HttpResponse::Ok().json(letters))
}

#[derive(Debug, Deserialize)]
struct ReplayQuery {
    event_id: Option<String>,
}

async fn replay(
    _: Admin,
    state: web::Data<DeadLetters>,
    query: web::Query<ReplayQuery>,
) -> Result<HttpResponse, ApiError> {
    let channel = channel(&state.broker).await?;
    let mut replayed = Vec::new();
    for queue in &state.queues {
        let dlq = topology::dead_letter_queue(queue);
        for m in take(&channel, &dlq, 1000).await? {
            let p = &m.delivery.properties;
            let id = p.message_id().as_ref().map(|s| s.to_string());
            let wanted = query.event_id.is_none() || query.event_id == id;
            if !wanted {
                put_back(&m).await;
                continue;
            }
            let props = publish::with_headers(
                p,
                &[
                    ("x-retries", AMQPValue::LongLongInt(0)),
                    ("x-replayed-at", publish::text(&chrono::Utc::now().to_rfc3339())),
                ],
            );
            let published = tokio::time::timeout(
                Duration::from_secs(5),
                publish::publish_confirmed(&channel, "", queue, &m.delivery.data, props),
            )
            .await;
            match published {
                Ok(Ok(())) => {
                    let _ = m.delivery.acker.ack(BasicAckOptions::default()).await;
                    tracing::warn!(queue = %queue, event_id = ?id, "dead letter replayed by an operator");
                    replayed.push(describe(queue, &m));
                }
                _ => put_back(&m).await,
            }
        }
    }
    let _ = channel.close(200, "done".into()).await;
    Ok(HttpResponse::Ok().json(Replayed {
        replayed: replayed.len(),
        messages: replayed,
    }))
}
