//! Fault switches for teaching and testing: make an operation answer 429, 500 or 422, or
//! slow down, on purpose, so the demo and the tests can show how the rest of the system copes.
//!
//! Switches are off by default, guarded by the admin token, and kept in the service's own
//! database (`fault_switches`), not in the process: with two instances of a service behind
//! a load balancer, a switch held in one process would fail half the calls, and "the next
//! 3 refunds get 429" would mean 3 per instance. A switch can fire for the next N calls
//! only; the count is taken down in the database, one claim per firing, so N is N across
//! every instance.
//!
//! The hot path stays free: each process keeps the set of armed operations, read again at
//! most every [`REFRESH`] (the bound every operator switch shares, `switches.rs`), and goes
//! to the database only for an operation that is armed. A switch set on another instance
//! takes effect here within that time.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use actix_web::{HttpResponse, http::StatusCode, web};
use platform_contracts::ops::{FAULTS_PATH, Fault, FaultMode, FaultSwitches};
use platform_http::{Admin, ApiError};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, FromQueryResult, raw_sql};

pub use crate::switches::REFRESH;

#[derive(Clone)]
pub struct Faults {
    db: DatabaseConnection,
    armed: Arc<Mutex<Armed>>,
}

#[derive(Default)]
struct Armed {
    operations: Vec<String>,
    read_at: Option<Instant>,
}

#[derive(FromQueryResult)]
struct Row {
    operation: String,
    mode: String,
    remaining: Option<i32>,
    delay_ms: Option<i64>,
    retry_after_secs: Option<i64>,
}

impl Row {
    fn fault(&self) -> Fault {
        Fault {
            mode: self.mode.parse().unwrap_or(FaultMode::Error),
            remaining: self.remaining.map(|n| n.max(0) as u32),
            delay_ms: self.delay_ms.map(|n| n.max(0) as u64),
            retry_after_secs: self.retry_after_secs.map(|n| n.max(0) as u64),
        }
    }
}

impl Faults {
    /// The switches in `db`, the service's own database.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            armed: Arc::default(),
        }
    }

    /// Called at the top of a handler: fails or delays the call if a switch is on.
    pub async fn inject(&self, operation: &str) -> Result<(), ApiError> {
        if !self.armed(operation).await {
            return Ok(());
        }
        // One firing, claimed in the database: the count goes down once, whichever
        // instance fires.
        let fired = Row::find_by_statement(raw_sql!(
            Postgres,
            r#"UPDATE fault_switches SET remaining = remaining - 1
               WHERE operation = {operation} AND (remaining IS NULL OR remaining > 0)
               RETURNING operation, mode, remaining, delay_ms, retry_after_secs"#
        ))
        .one(&self.db)
        .await;
        let fault = match fired {
            Ok(Some(row)) => {
                if row.remaining == Some(0) {
                    let _ = self.clear(operation).await;
                }
                row.fault()
            }
            Ok(None) => {
                self.forget(operation);
                return Ok(());
            }
            // A switch that cannot be read does not fail the call by itself.
            Err(e) => {
                tracing::warn!(operation, error = %e, "fault switch unreadable; not firing");
                return Ok(());
            }
        };
        tracing::warn!(operation, mode = ?fault.mode, "fault switch fired");
        match fault.mode {
            FaultMode::RateLimit => Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("{operation}: rate limited (fault switch)"),
            )
            .retry_after(fault.retry_after_secs.unwrap_or(1))),
            FaultMode::Error => Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "injected_fault",
                format!("{operation}: failed on purpose (fault switch)"),
            )),
            FaultMode::Reject => Err(ApiError::unprocessable(
                "rejected",
                format!("{operation}: rejected (fault switch)"),
            )),
            FaultMode::Delay => {
                tokio::time::sleep(Duration::from_millis(fault.delay_ms.unwrap_or(1000))).await;
                Ok(())
            }
        }
    }

    /// Whether a switch may be on for `operation` (this process's view, at most
    /// [`REFRESH`] old).
    pub async fn armed(&self, operation: &str) -> bool {
        let stale = {
            let armed = self.armed.lock().expect("fault switches poisoned");
            armed.read_at.is_none_or(|t| t.elapsed() >= REFRESH)
        };
        if stale && let Err(e) = self.list().await {
            tracing::warn!(error = %e, "fault switches unreadable");
        }
        let armed = self.armed.lock().expect("fault switches poisoned");
        armed.operations.iter().any(|o| o == operation)
    }

    pub async fn set(&self, operation: &str, fault: Fault) -> Result<(), DbErr> {
        let (mode, remaining) = (fault.mode.as_str(), fault.remaining.map(|n| n as i32));
        let (delay_ms, retry_after_secs) = (
            fault.delay_ms.map(|n| n as i64),
            fault.retry_after_secs.map(|n| n as i64),
        );
        self.db
            .execute_raw(raw_sql!(
                Postgres,
                r#"INSERT INTO fault_switches (operation, mode, remaining, delay_ms, retry_after_secs)
                   VALUES ({operation}, {mode}, {remaining}, {delay_ms}, {retry_after_secs})
                   ON CONFLICT (operation) DO UPDATE SET mode = EXCLUDED.mode, remaining = EXCLUDED.remaining,
                       delay_ms = EXCLUDED.delay_ms, retry_after_secs = EXCLUDED.retry_after_secs, set_at = now()"#
            ))
            .await?;
        self.list().await.map(|_| ())
    }

    pub async fn clear(&self, operation: &str) -> Result<(), DbErr> {
        self.db
            .execute_raw(raw_sql!(
                Postgres,
                r#"DELETE FROM fault_switches WHERE operation = {operation}"#
            ))
            .await?;
        self.forget(operation);
        Ok(())
    }

    /// The switches that are on, read from the database (and this process's view renewed).
    pub async fn list(&self) -> Result<BTreeMap<String, Fault>, DbErr> {
        let rows = Row::find_by_statement(raw_sql!(
            Postgres,
            r#"SELECT operation, mode, remaining, delay_ms, retry_after_secs FROM fault_switches
               WHERE remaining IS NULL OR remaining > 0"#
        ))
        .all(&self.db)
        .await?;
        let mut armed = self.armed.lock().expect("fault switches poisoned");
        armed.operations = rows.iter().map(|r| r.operation.clone()).collect();
        armed.read_at = Some(Instant::now());
        Ok(rows.iter().map(|r| (r.operation.clone(), r.fault())).collect())
    }

    fn forget(&self, operation: &str) {
        let mut armed = self.armed.lock().expect("fault switches poisoned");
        armed.operations.retain(|o| o != operation);
    }

    /// `GET /admin/faults`, `PUT /admin/faults/{operation}`, `DELETE /admin/faults/{operation}`.
    /// `operations` are the names this service checks, so a typo is a 404, not a silent no-op.
    pub fn routes(self, operations: &'static [&'static str]) -> impl Fn(&mut web::ServiceConfig) + Clone {
        move |cfg| {
            cfg.app_data(web::Data::new(self.clone()))
                .app_data(web::Data::new(KnownOperations(operations)))
                .route(FAULTS_PATH, web::get().to(list))
                .route("/admin/faults/{operation}", web::put().to(set))
                .route("/admin/faults/{operation}", web::delete().to(clear));
        }
    }
}

struct KnownOperations(&'static [&'static str]);

async fn list(
    _: Admin,
    faults: web::Data<Faults>,
    known: web::Data<KnownOperations>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(FaultSwitches {
        operations: known.0.iter().map(|o| o.to_string()).collect(),
        faults: faults.list().await.map_err(platform_db::api_error)?,
    }))
}

async fn set(
    _: Admin,
    faults: web::Data<Faults>,
    known: web::Data<KnownOperations>,
    operation: web::Path<String>,
    fault: web::Json<Fault>,
) -> Result<HttpResponse, ApiError> {
    let operation = known_operation(&known, &operation)?;
    tracing::warn!(operation, fault = ?fault.0, "fault switch turned on");
    faults
        .set(operation, fault.into_inner())
        .await
        .map_err(platform_db::api_error)?;
    Ok(HttpResponse::Ok().json(faults.list().await.map_err(platform_db::api_error)?))
}

async fn clear(
    _: Admin,
    faults: web::Data<Faults>,
    known: web::Data<KnownOperations>,
    operation: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let operation = known_operation(&known, &operation)?;
    faults.clear(operation).await.map_err(platform_db::api_error)?;
    Ok(HttpResponse::Ok().json(faults.list().await.map_err(platform_db::api_error)?))
}

fn known_operation(known: &KnownOperations, operation: &str) -> Result<&'static str, ApiError> {
    known.0.iter().find(|o| **o == operation).copied().ok_or_else(|| {
        ApiError::not_found(
            "unknown_operation",
            format!("no fault switch named {operation:?}"),
        )
        .details(serde_json::json!({ "operations": known.0 }))
    })
}
