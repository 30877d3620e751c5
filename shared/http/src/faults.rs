//! Fault switches for teaching and testing: make an operation answer 429, 500 or 422, or
//! slow down, on purpose, so the demo and the tests can show how the rest of the system copes.
//!
//! Switches are off by default, guarded by the admin token, and in memory (they are a
//! property of this process, not business state). A switch can fire for the next N calls
//! only, which is how a test says "the first two releases get 429, then it recovers".

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{HttpResponse, http::StatusCode, web};
use platform_contracts::ops::{FAULTS_PATH, Fault, FaultMode, FaultSwitches};

use crate::{ApiError, admin::Admin};

#[derive(Clone, Default)]
pub struct Faults {
    switches: Arc<Mutex<BTreeMap<String, Fault>>>,
}

impl Faults {
    /// Called at the top of a handler: fails or delays the call if a switch is on.
    pub async fn inject(&self, operation: &str) -> Result<(), ApiError> {
        let fault = {
            let mut switches = self.switches.lock().expect("fault switches poisoned");
            let Some(fault) = switches.get_mut(operation) else {
                return Ok(());
            };
            let fired = fault.clone();
            match &mut fault.remaining {
                Some(0) | Some(1) => {
                    switches.remove(operation);
                }
                Some(n) => *n -= 1,
                None => {}
            }
            fired
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

    pub fn set(&self, operation: &str, fault: Fault) {
        self.switches
            .lock()
            .expect("fault switches poisoned")
            .insert(operation.to_string(), fault);
    }

    pub fn clear(&self, operation: &str) {
        self.switches
            .lock()
            .expect("fault switches poisoned")
            .remove(operation);
    }

    pub fn list(&self) -> BTreeMap<String, Fault> {
        self.switches.lock().expect("fault switches poisoned").clone()
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

async fn list(_: Admin, faults: web::Data<Faults>, known: web::Data<KnownOperations>) -> HttpResponse {
    HttpResponse::Ok().json(FaultSwitches {
        operations: known.0.iter().map(|o| o.to_string()).collect(),
        faults: faults.list(),
    })
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
    faults.set(operation, fault.into_inner());
    Ok(HttpResponse::Ok().json(faults.list()))
}

async fn clear(
    _: Admin,
    faults: web::Data<Faults>,
    known: web::Data<KnownOperations>,
    operation: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let operation = known_operation(&known, &operation)?;
    faults.clear(operation);
    Ok(HttpResponse::Ok().json(faults.list()))
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
