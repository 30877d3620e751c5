//! The chaos checker's counts, live: is any confirmed order missing an effect, or did any
//! effect happen twice? How many orders are stuck, and how old is the oldest open one?
//!
//! After a chaos run the checker (load-tests/tools, docs/reliability.md) compares what
//! every client was told with every database. While the platform runs, this monitor asks
//! the same question of the recent past, every few seconds: for each order confirmed in
//! the last `window` (but at least `settle` ago, so the fan-out has had its time), every
//! consuming service says whether it acted on it, and how often (`POST /effects`, typed in
//! `platform_contracts::effects`). The answers become metrics (`orders_lost`,
//! `orders_duplicated`, `orders_stuck`, `orders_oldest_open_seconds`), alerts, and the
//! integrity panel of the ops page, so a person watching a scenario sees "0 lost, 0
//! duplicated" hold, or move.
//!
//! "Lost" here means "an effect is still missing `settle` after the confirmation": a
//! broker outage longer than that shows as lost until the backlog drains, which is what an
//! operator should see (the shopper was told "confirmed" and nothing has followed yet).

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{HttpResponse, web};
use chrono::Utc;
use platform_contracts::effects::{
    EFFECTS_PATH, EffectsRequest, EffectsResponse, Finding, INTEGRITY_PATH, IntegrityReport as Report,
    MAX_EFFECTS_PER_REQUEST,
};
use sea_orm::{DatabaseConnection, DbBackend, FromQueryResult, Statement};
use uuid::Uuid;

#[derive(Clone)]
pub struct Integrity {
    db: DatabaseConnection,
    http: reqwest::Client,
    /// The consuming services, by name, with their base URLs.
    services: Vec<(&'static str, String)>,
    settle: Duration,
    window: Duration,
    latest: Arc<Mutex<Report>>,
}

#[derive(FromQueryResult)]
struct Open {
    stuck: i64,
    oldest_open_secs: Option<f64>,
}

#[derive(FromQueryResult)]
struct Confirmed {
    id: Uuid,
}

impl Integrity {
    pub fn new(
        db: DatabaseConnection,
        services: Vec<(&'static str, String)>,
        settle: Duration,
        window: Duration,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            db,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .build()?,
            services,
            settle,
            window,
            latest: Arc::default(),
        })
    }

    /// The latest report.
    pub fn report(&self) -> Report {
        self.latest.lock().expect("integrity lock").clone()
    }

    async fn ask(&self, base_url: &str, order_ids: &[Uuid]) -> anyhow::Result<EffectsResponse> {
        let url = format!("{}{EFFECTS_PATH}", base_url.trim_end_matches('/'));
        let body = EffectsRequest {
            order_ids: order_ids.to_vec(),
        };
        Ok(self
            .http
            .post(url)
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// `GET /ops/integrity`: the latest report.
    pub fn routes(self) -> impl Fn(&mut web::ServiceConfig) + Clone {
        move |cfg| {
            cfg.app_data(web::Data::new(self.clone()))
                .route(INTEGRITY_PATH, web::get().to(report));
        }
    }
}

impl platform_service::periodic::Pass for Integrity {
    async fn run_pass(&self) -> anyhow::Result<bool> {
        let open = Open::find_by_statement(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) FILTER (WHERE deadline_at < now()) AS stuck,
                    extract(epoch FROM now() - min(created_at))::float8 AS oldest_open_secs
             FROM orders WHERE status IN ('pending', 'stock_reserved')",
        ))
        .one(&self.db)
        .await?
        .unwrap_or(Open {
            stuck: 0,
            oldest_open_secs: None,
        });
        let (settle, window) = (self.settle.as_secs_f64(), self.window.as_secs_f64());
        let confirmed: Vec<Uuid> = Confirmed::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM orders WHERE status = 'confirmed'
               AND updated_at < now() - $1 * interval '1 second'
               AND updated_at > now() - $2 * interval '1 second'
             ORDER BY updated_at DESC LIMIT $3",
            [
                settle.into(),
                window.into(),
                (MAX_EFFECTS_PER_REQUEST as i64).into(),
            ],
        ))
        .all(&self.db)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();

        // Per order, per service: how many times the effect happened.
        let mut problems: BTreeMap<Uuid, Vec<String>> = BTreeMap::new();
        let (mut lost, mut duplicated) = (
            std::collections::BTreeSet::new(),
            std::collections::BTreeSet::new(),
        );
        let mut unreachable = Vec::new();
        if !confirmed.is_empty() {
            for (name, url) in &self.services {
                let answer = match self.ask(url, &confirmed).await {
                    Ok(answer) => answer,
                    Err(e) => {
                        tracing::debug!(service = name, error = %e, "integrity check: no answer");
                        unreachable.push(name.to_string());
                        continue;
                    }
                };
                let counts: BTreeMap<Uuid, i64> =
                    answer.effects.iter().map(|e| (e.order_id, e.count)).collect();
                for id in &confirmed {
                    let n = counts.get(id).copied().unwrap_or(0);
                    if n == 1 {
                        continue;
                    }
                    if n == 0 {
                        lost.insert(*id);
                    } else {
                        duplicated.insert(*id);
                    }
                    problems
                        .entry(*id)
                        .or_default()
                        .push(format!("{name}: {} {n} times", answer.effect));
                }
            }
        }
        metrics::gauge!("orders_lost").set(lost.len() as f64);
        metrics::gauge!("orders_duplicated").set(duplicated.len() as f64);
        metrics::gauge!("orders_stuck").set(open.stuck as f64);
        metrics::gauge!("orders_oldest_open_seconds").set(open.oldest_open_secs.unwrap_or(0.0));
        metrics::gauge!("integrity_checked_orders").set(confirmed.len() as f64);
        let report = Report {
            checked_at: Some(Utc::now()),
            checked_orders: confirmed.len(),
            settle_secs: self.settle.as_secs(),
            window_secs: self.window.as_secs(),
            lost: lost.len(),
            duplicated: duplicated.len(),
            stuck: open.stuck,
            oldest_open_secs: open.oldest_open_secs,
            findings: problems
                .into_iter()
                .take(20)
                .map(|(order_id, problems)| Finding { order_id, problems })
                .collect(),
            unreachable,
        };
        *self.latest.lock().expect("integrity lock") = report;
        Ok(false)
    }
}

async fn report(integrity: web::Data<Integrity>) -> HttpResponse {
    HttpResponse::Ok().json(integrity.report())
}
