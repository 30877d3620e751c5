//! What the operator sees: queue health, the outbox backlog, and alerts.
//!
//! One background pass every few seconds samples the broker's queues (depth, oldest
//! message age, rates) and the outbox (backlog, oldest unpublished row), exports them as
//! metrics, and evaluates the alert rules. An alert is logged once when it starts firing
//! and once when it clears (not on every pass: a log line repeated every 2 s is noise
//! nobody reads), and is listed at `GET /ops/alerts` while it fires.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{HttpResponse, web};
use chrono::Utc;
use platform_contracts::analytics::{SUMMARY_PATH, Summary};
use platform_contracts::ops::{
    ALERTS_PATH, Alert, Alerts, OUTBOX_PATH, OutboxStats, QueueRole, Severity, Thresholds,
};
use platform_db::reads::Reads;
use platform_messaging::monitor::QueueMonitor;
use sea_orm::{DatabaseConnection, DbErr, FromQueryResult, raw_sql};

#[derive(Clone)]
pub struct OpsMonitor {
    pub db: DatabaseConnection,
    pub monitor: QueueMonitor,
    pub thresholds: Thresholds,
    pub analytics_url: String,
    integrity: crate::integrity::Integrity,
    /// The order service's view of the read replica (every service has its own; they
    /// share one replica).
    reads: Reads,
    http: reqwest::Client,
    active: Arc<Mutex<BTreeMap<String, Alert>>>,
    outbox: Arc<Mutex<OutboxStats>>,
}

impl OpsMonitor {
    pub fn new(
        db: DatabaseConnection,
        monitor: QueueMonitor,
        thresholds: Thresholds,
        analytics_url: String,
        integrity: crate::integrity::Integrity,
        reads: Reads,
    ) -> Self {
        Self {
            db,
            reads,
            monitor,
            thresholds,
            analytics_url,
            integrity,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .expect("a plain HTTP client always builds"),
            active: Arc::default(),
            outbox: Arc::default(),
        }
    }

    pub fn alerts(&self) -> Vec<Alert> {
        self.active
            .lock()
            .expect("alerts lock")
            .values()
            .cloned()
            .collect()
    }

    async fn evaluate(&self, outbox: &OutboxStats) -> Result<Vec<(String, Severity, String)>, DbErr> {
        let t = &self.thresholds;
        let mut firing = Vec::new();
        let replica = self.reads.status();
        if replica.configured && !replica.usable {
            firing.push((
                "replica_unusable".into(),
                Severity::Ticket,
                format!(
                    "the read replica is unreachable or {} ms ({} bytes) behind: tolerant reads go to the primary",
                    replica.lag_millis, replica.lag_bytes
                ),
            ));
        }
        let snapshot = self.monitor.snapshot();
        if let Some(error) = &snapshot.error {
            firing.push((
                "queue_monitor_failing".into(),
                Severity::Ticket,
                format!("cannot read queue statistics: {error}"),
            ));
        }
        for q in &snapshot.queues {
            let oldest = q.oldest_age_secs.unwrap_or(0.0);
            match q.role {
                QueueRole::Main if oldest > t.queue_oldest_secs as f64 => firing.push((
                    format!("queue_backlog:{}", q.name),
                    Severity::Page,
                    format!(
                        "oldest message in {} is {oldest:.0} s old (threshold {} s); {} waiting, {} consumers",
                        q.name, t.queue_oldest_secs, q.messages, q.consumers
                    ),
                )),
                QueueRole::DeadLetter if q.messages > t.dead_letters_max => firing.push((
                    format!("dead_letters:{}", q.name),
                    Severity::Ticket,
                    format!(
                        "{} dead letters in {}: list and replay them from the ops page",
                        q.messages, q.name
                    ),
                )),
                QueueRole::Main | QueueRole::DeadLetter | QueueRole::Retry => {}
            }
        }
        if let Some(age) = outbox.oldest_unpublished_secs
            && age > t.outbox_oldest_secs as f64
        {
            firing.push((
                "outbox_stuck".into(),
                Severity::Page,
                format!(
                    "{} events unpublished, the oldest for {age:.0} s: is the broker reachable?",
                    outbox.backlog
                ),
            ));
        }
        let late = count(
            &self.db,
            raw_sql!(
                Postgres,
                r#"SELECT count(*) AS n FROM orders WHERE status IN ('pending', 'stock_reserved')
                   AND deadline_at < now() - interval '10 seconds'"#
            ),
        )
        .await?;
        if late > 0 {
            firing.push((
                "orders_past_deadline".into(),
                Severity::Page,
                format!(
                    "{late} orders are still not terminal past their deadline: is the reconciler running?"
                ),
            ));
        }
        let integrity = self.integrity.report();
        if integrity.lost > 0 {
            firing.push((
                "orders_lost".into(),
                Severity::Page,
                format!(
                    "{} confirmed orders still miss an effect {} s after their confirmation (see /ops/integrity)",
                    integrity.lost, integrity.settle_secs
                ),
            ));
        }
        if integrity.duplicated > 0 {
            firing.push((
                "effects_duplicated".into(),
                Severity::Page,
                format!(
                    "{} confirmed orders had an effect more than once (see /ops/integrity)",
                    integrity.duplicated
                ),
            ));
        }
        let parked = count(
            &self.db,
            raw_sql!(
                Postgres,
                r#"SELECT count(*) AS n FROM compensations WHERE status = 'parked'"#
            ),
        )
        .await?;
        // For Prometheus' copy of this rule (scripts/prometheus/alerts.yml): the count now,
        // not a counter of parkings, since the alert holds while any stays parked.
        metrics::gauge!("order_compensations_parked").set(parked as f64);
        if parked > 0 {
            firing.push((
                "compensations_parked".into(),
                Severity::Page,
                format!(
                    "{parked} compensations are parked: retry them from the ops page once the cause is fixed"
                ),
            ));
        }
        if let Ok(res) = self
            .http
            .get(format!("{}{SUMMARY_PATH}", self.analytics_url))
            .send()
            .await
            && let Ok(summary) = res.json::<Summary>().await
            && summary.freshness.stale
        {
            let message = match summary.freshness.heartbeat_age_ms {
                Some(ms) => format!("analytics has not seen a heartbeat for {ms} ms: its numbers are stale"),
                None => "analytics has never seen a heartbeat: its numbers are stale".to_string(),
            };
            firing.push(("projection_stale".into(), Severity::Ticket, message));
        }
        Ok(firing)
    }

    fn update(&self, firing: Vec<(String, Severity, String)>) {
        let mut active = self.active.lock().expect("alerts lock");
        let names: Vec<&String> = firing.iter().map(|(n, _, _)| n).collect();
        active.retain(|name, alert| {
            let still = names.contains(&name);
            if !still {
                tracing::warn!(alert = %name, since = %alert.since, "alert resolved");
            }
            still
        });
        for (name, severity, message) in firing {
            match active.get_mut(&name) {
                Some(alert) => alert.message = message,
                None => {
                    tracing::error!(alert = %name, severity = severity.as_str(), %message, "ALERT firing");
                    active.insert(
                        name.clone(),
                        Alert {
                            name,
                            severity,
                            message,
                            since: Utc::now(),
                        },
                    );
                }
            }
        }
        metrics::gauge!("alerts_active").set(active.len() as f64);
    }

    pub fn routes(self) -> impl Fn(&mut web::ServiceConfig) + Clone {
        move |cfg| {
            cfg.app_data(web::Data::new(self.clone()))
                .route(ALERTS_PATH, web::get().to(alerts))
                .route(OUTBOX_PATH, web::get().to(outbox));
            self.monitor.clone().routes()(cfg);
        }
    }
}

impl platform_service::periodic::Pass for OpsMonitor {
    /// One pass: sample, export, evaluate.
    async fn run_pass(&self) -> anyhow::Result<bool> {
        self.monitor.sample().await?;
        let outbox = outbox_stats(&self.db).await?;
        metrics::gauge!("outbox_backlog").set(outbox.backlog as f64);
        metrics::gauge!("outbox_oldest_unpublished_seconds")
            .set(outbox.oldest_unpublished_secs.unwrap_or(0.0));
        *self.outbox.lock().expect("outbox lock") = outbox.clone();
        let firing = self.evaluate(&outbox).await?;
        self.update(firing);
        Ok(false)
    }
}

#[derive(FromQueryResult)]
struct N {
    n: i64,
}

async fn count(db: &DatabaseConnection, stmt: sea_orm::Statement) -> Result<i64, DbErr> {
    Ok(N::find_by_statement(stmt)
        .one(db)
        .await?
        .map(|r| r.n)
        .unwrap_or(0))
}

pub async fn outbox_stats(db: &DatabaseConnection) -> Result<OutboxStats, DbErr> {
    Ok(OutboxStats::find_by_statement(raw_sql!(
        Postgres,
        // Three index-backed subqueries rather than one scan: the outbox keeps an hour of
        // published rows, and this runs every few seconds.
        r#"SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS backlog,
                  (SELECT EXTRACT(EPOCH FROM now() - min(created_at))::float8 FROM outbox
                   WHERE published_at IS NULL) AS oldest_unpublished_secs,
                  (SELECT count(*) FROM outbox WHERE published_at > now() - interval '1 minute')
                      AS published_last_minute"#
    ))
    .one(db)
    .await?
    .unwrap_or_default())
}

async fn alerts(ops: web::Data<OpsMonitor>) -> HttpResponse {
    HttpResponse::Ok().json(Alerts {
        active: ops.alerts(),
        thresholds: ops.thresholds.clone(),
    })
}

async fn outbox(ops: web::Data<OpsMonitor>) -> HttpResponse {
    HttpResponse::Ok().json(ops.outbox.lock().expect("outbox lock").clone())
}
