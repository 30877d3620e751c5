//! Liveness and readiness.
//!
//! They answer different questions, and mixing them up causes outages:
//! - `/health/live`: is the process able to answer at all? Restart it if not. It never
//!   checks dependencies: a database blip must not make an orchestrator restart every
//!   instance at once.
//! - `/health/ready`: should this instance receive traffic now? Only if its database answers
//!   and its broker connection is open. While not ready it answers 503 with the reason.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use actix_web::{HttpResponse, web};
use futures_util::future::{BoxFuture, join_all};
use platform_contracts::ops::{READY_PATH, Readiness, ReadinessStatus};
use serde_json::json;

type Check = dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync;

/// One readiness check, e.g. "database" or "broker".
#[derive(Clone)]
pub struct Probe {
    name: &'static str,
    check: Arc<Check>,
}

impl Probe {
    pub fn new<F>(name: &'static str, check: F) -> Self
    where
        F: Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static,
    {
        Self {
            name,
            check: Arc::new(check),
        }
    }

    /// A probe never hangs the readiness endpoint: a dependency that does not answer
    /// within the timeout counts as down.
    async fn run(&self) -> Result<(), String> {
        match tokio::time::timeout(Duration::from_secs(2), (self.check)()).await {
            Ok(result) => result,
            Err(_) => Err("no answer within 2s".into()),
        }
    }
}

#[derive(Clone, Default)]
pub struct Probes(Vec<Probe>);

impl Probes {
    pub fn new(probes: Vec<Probe>) -> Self {
        Self(probes)
    }
}

pub fn routes(probes: Probes) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(probes))
            .route("/health/live", web::get().to(live))
            .route(READY_PATH, web::get().to(ready));
    }
}

async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "live" }))
}

async fn ready(probes: web::Data<Probes>) -> HttpResponse {
    let results = join_all(probes.0.iter().map(|p| async move { (p.name, p.run().await) })).await;
    let mut checks = BTreeMap::new();
    let mut failures = Vec::new();
    for (name, result) in results {
        match result {
            Ok(()) => checks.insert(name.to_string(), "ok".to_string()),
            Err(reason) => {
                failures.push(format!("{name}: {reason}"));
                checks.insert(name.to_string(), reason)
            }
        };
    }
    if failures.is_empty() {
        HttpResponse::Ok().json(Readiness {
            status: ReadinessStatus::Ready,
            reason: None,
            checks,
        })
    } else {
        HttpResponse::ServiceUnavailable().json(Readiness {
            status: ReadinessStatus::Unavailable,
            reason: Some(failures.join("; ")),
            checks,
        })
    }
}
