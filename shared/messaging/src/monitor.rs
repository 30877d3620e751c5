//! The queue monitor: samples every queue of the vhost through the management API, exports
//! the figures as metrics and keeps the latest snapshot for the ops page and the alerts.
//!
//! Queues move load into the future, and every dashboard can stay green while they fill:
//! 1,000 messages/s in and 800/s out is 120,000 behind after ten minutes. Depth alone is a
//! poor signal (100,000 messages draining fast is fine; 500 messages six hours old is not),
//! so the monitor reports the **oldest message's age** too, from the timestamp of the
//! message at the head of the queue: correct even while the consumers are stopped, which is
//! exactly when it matters.

use std::sync::{Arc, RwLock};

use actix_web::{HttpResponse, web};
use chrono::Utc;
use platform_contracts::ops::{QUEUES_PATH, QueueRole, QueueSnapshot, QueueStats};
use serde::Deserialize;

use crate::management::{Management, vhost_of};

#[derive(Clone)]
pub struct QueueMonitor {
    management: Option<Management>,
    vhost: String,
    latest: Arc<RwLock<QueueSnapshot>>,
}

/// One queue as RabbitMQ's management API lists it (`GET /api/queues/{vhost}`), with the
/// fields the monitor reads. RabbitMQ leaves out what it has not measured yet (the counts
/// of a queue whose first statistics are not in, the rates of a queue no message went
/// through), which reads as 0; the head timestamp is absent or `null` for an empty queue or
/// a message without one.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RabbitQueue {
    name: String,
    messages: u64,
    messages_ready: u64,
    messages_unacknowledged: u64,
    consumers: u64,
    head_message_timestamp: Option<i64>,
    message_stats: MessageStats,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MessageStats {
    publish_details: Rate,
    deliver_get_details: Rate,
    ack_details: Rate,
}

/// Messages per second, over RabbitMQ's last sampling interval.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Rate {
    rate: f64,
}

impl QueueMonitor {
    pub fn new(management_url: &str, amqp_url: &str) -> Self {
        let management = Management::new(management_url)
            .map_err(|e| tracing::warn!(error = %e, "queue monitor disabled: bad RABBITMQ_MANAGEMENT_URL"))
            .ok();
        Self {
            management,
            vhost: vhost_of(amqp_url),
            latest: Arc::default(),
        }
    }

    pub fn snapshot(&self) -> QueueSnapshot {
        self.latest.read().expect("snapshot lock").clone()
    }

    /// One sample of every queue of the vhost.
    pub async fn sample(&self) -> anyhow::Result<bool> {
        let Some(management) = &self.management else {
            return Ok(false);
        };
        let now = Utc::now();
        let result = management
            .get(&format!("api/queues/{}", self.vhost))
            .await
            .and_then(|list| Ok(serde_json::from_value::<Option<Vec<RabbitQueue>>>(list)?));
        let mut snapshot = QueueSnapshot {
            sampled_at: Some(now),
            ..QueueSnapshot::default()
        };
        match result {
            Ok(list) => {
                for q in list.into_iter().flatten() {
                    let role = if q.name.ends_with(".dlq") {
                        QueueRole::DeadLetter
                    } else if q.name.contains(".retry.") {
                        QueueRole::Retry
                    } else {
                        QueueRole::Main
                    };
                    let oldest_age_secs = q
                        .head_message_timestamp
                        .filter(|_| q.messages > 0)
                        .map(|ts| (now.timestamp() - ts).max(0) as f64);
                    let stats = QueueStats {
                        name: q.name,
                        role,
                        messages: q.messages,
                        ready: q.messages_ready,
                        unacked: q.messages_unacknowledged,
                        consumers: q.consumers,
                        publish_rate: q.message_stats.publish_details.rate,
                        deliver_rate: q.message_stats.deliver_get_details.rate,
                        ack_rate: q.message_stats.ack_details.rate,
                        oldest_age_secs,
                    };
                    let labels = [("queue", stats.name.clone()), ("role", role.to_string())];
                    metrics::gauge!("queue_messages", &labels).set(stats.messages as f64);
                    metrics::gauge!("queue_messages_ready", &labels).set(stats.ready as f64);
                    metrics::gauge!("queue_messages_unacked", &labels).set(stats.unacked as f64);
                    metrics::gauge!("queue_consumers", &labels).set(stats.consumers as f64);
                    metrics::gauge!("queue_publish_rate", &labels).set(stats.publish_rate);
                    metrics::gauge!("queue_deliver_rate", &labels).set(stats.deliver_rate);
                    metrics::gauge!("queue_oldest_message_age_seconds", &labels)
                        .set(stats.oldest_age_secs.unwrap_or(0.0));
                    snapshot.queues.push(stats);
                }
                snapshot.queues.sort_by(|a, b| a.name.cmp(&b.name));
            }
            Err(e) => snapshot.error = Some(e.to_string()),
        }
        *self.latest.write().expect("snapshot lock") = snapshot;
        Ok(false)
    }

    /// `GET /ops/queues`: the latest snapshot.
    pub fn routes(self) -> impl Fn(&mut web::ServiceConfig) + Clone {
        move |cfg| {
            cfg.app_data(web::Data::new(self.clone()))
                .route(QUEUES_PATH, web::get().to(queues));
        }
    }
}

async fn queues(monitor: web::Data<QueueMonitor>) -> HttpResponse {
    HttpResponse::Ok().json(monitor.snapshot())
}
