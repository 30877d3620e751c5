//! Load shedding: when the secondary path falls behind, the least important work stops
//! first.
//!
//! Policy (documented in docs/observability.md): analytics is the platform's non-critical
//! consumer; nobody's order depends on it. When a critical queue (inventory's or payment's
//! order events: the stock commits and captures) holds more than `max_depth` messages or
//! its oldest message is older than `max_age`, analytics pauses its own consumer, leaving
//! the shared database and CPU to the consumers that matter and to checkouts. It resumes
//! when the critical queues are back under half those limits (the gap avoids flapping), and
//! then catches up: its events wait in its queue, nothing is lost, its lag shows meanwhile.
//!
//! This pause stays in the process, unlike the operator's (`consumer_switches`, obeyed by
//! every instance): each instance of analytics computes it from the same broker state (the
//! critical queues' depth and age, from the broker's management API), so every instance
//! engages and releases on the same samples without sharing anything, and an instance that
//! starts computes it afresh. It is a reason of its own (`set_backpressure`): releasing it
//! never resumes a consumer an operator paused.

use std::sync::{Arc, Mutex};

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use platform_contracts::analytics::{BACKPRESSURE_PATH, Backpressure};
use platform_messaging::{ConsumerHandle, monitor::QueueMonitor};

/// When to shed analytics: the wire type of `/ops/backpressure`'s `policy`, with the
/// documented defaults.
pub use platform_contracts::analytics::BackpressurePolicy as Policy;

#[derive(Debug, Clone, Default)]
pub struct State {
    pub engaged: bool,
    pub reason: Option<String>,
    pub since: Option<DateTime<Utc>>,
}

#[derive(Clone)]
pub struct Shedder {
    monitor: QueueMonitor,
    consumer: ConsumerHandle,
    policy: Policy,
    state: Arc<Mutex<State>>,
}

impl Shedder {
    pub fn new(monitor: QueueMonitor, consumer: ConsumerHandle, policy: Policy) -> Self {
        Self {
            monitor,
            consumer,
            policy,
            state: Arc::default(),
        }
    }

    pub fn routes(self) -> impl Fn(&mut web::ServiceConfig) + Clone {
        move |cfg| {
            cfg.app_data(web::Data::new(self.clone()))
                .route(BACKPRESSURE_PATH, web::get().to(status));
        }
    }
}

impl platform_service::periodic::Pass for Shedder {
    async fn run_pass(&self) -> anyhow::Result<bool> {
        self.monitor.sample().await?;
        let snapshot = self.monitor.snapshot();
        if snapshot.error.is_some() {
            return Ok(false);
        }
        let critical: Vec<_> = snapshot
            .queues
            .iter()
            .filter(|q| self.policy.critical_queues.contains(&q.name))
            .collect();
        let max_age = self.policy.max_age.as_secs_f64();
        let over = critical
            .iter()
            .find(|q| q.messages > self.policy.max_depth || q.oldest_age_secs.unwrap_or(0.0) > max_age);
        let calm = critical.iter().all(|q| {
            q.messages <= self.policy.max_depth / 2 && q.oldest_age_secs.unwrap_or(0.0) <= max_age / 2.0
        });
        let mut state = self.state.lock().expect("backpressure lock");
        match (state.engaged, over) {
            (false, Some(q)) => {
                let reason = format!(
                    "{} holds {} messages, the oldest {:.0} s old",
                    q.name,
                    q.messages,
                    q.oldest_age_secs.unwrap_or(0.0)
                );
                tracing::warn!(%reason, "backpressure engaged: pausing analytics to protect critical work");
                self.consumer.set_backpressure(true);
                *state = State {
                    engaged: true,
                    reason: Some(reason),
                    since: Some(Utc::now()),
                };
            }
            (true, None) if calm => {
                tracing::warn!("backpressure released: analytics resumes and catches up");
                self.consumer.set_backpressure(false);
                *state = State::default();
            }
            _ => {}
        }
        metrics::gauge!("backpressure_engaged", "shed" => "analytics").set(if state.engaged {
            1.0
        } else {
            0.0
        });
        Ok(false)
    }
}

async fn status(shedder: web::Data<Shedder>) -> HttpResponse {
    let state = shedder.state.lock().expect("backpressure lock").clone();
    HttpResponse::Ok().json(Backpressure {
        engaged: state.engaged,
        reason: state.reason,
        since: state.since,
        policy: shedder.policy.clone(),
        consumer_paused: shedder.consumer.is_paused(),
    })
}
