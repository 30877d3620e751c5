//! The journey of one order across all services: "is this order done, and if not, where
//! is it and who owns the next step?", answered from one place.
//!
//! The order service owns the outcome, so it assembles the answer: its own timeline and
//! outbox, then what each other service reports through its API (no service reads another's
//! database): the reservation, the payment, the events each consumer applied and when, the
//! email, the analytics count. Every record carries a correlation id; the journey checks
//! they all carry the checkout's.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use platform_http::ApiError;
use sea_orm::{DatabaseConnection, FromQueryResult, raw_sql};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use platform_contracts::{
    inventory::{Reservation, ReservationStatus},
    order::{CompensationStatus, OrderStatus},
    payment::{Payment, PaymentStatus},
};

use crate::{OrderError, orders};

#[derive(Clone)]
pub struct Journey {
    pub db: DatabaseConnection,
    pub services: Vec<(&'static str, String)>,
    pub http: reqwest::Client,
}

#[derive(Debug, Serialize, FromQueryResult)]
struct Published {
    event_type: String,
    created_at: DateTime<Utc>,
    published_at: Option<DateTime<Utc>>,
    attempts: i32,
}

#[derive(Debug, Serialize)]
struct Step {
    service: &'static str,
    step: String,
    status: &'static str,
    at: Option<Value>,
    correlation_id: Option<Value>,
    detail: Option<String>,
}

#[derive(Debug, Serialize)]
struct Pending {
    what: String,
    owner: &'static str,
}

impl Journey {
    async fn fetch<T: serde::de::DeserializeOwned>(&self, service: &str, path: String) -> Option<T> {
        let base = &self.services.iter().find(|(name, _)| *name == service)?.1;
        let res = self.http.get(format!("{base}{path}")).send().await.ok()?;
        if res.status().is_success() {
            res.json().await.ok()
        } else {
            None
        }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig, journey: Journey) {
    cfg.app_data(web::Data::new(journey))
        .route("/orders/{id}/journey", web::get().to(journey_of));
}

async fn journey_of(journey: web::Data<Journey>, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let db = &journey.db;
    let order = orders::load(db, id).await?.ok_or(OrderError::NotFound)?;
    let (_, timeline, compensations) = orders::details(db, id).await?;
    let aggregate = id.to_string();
    let published = Published::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT event_type, created_at, published_at, attempts FROM outbox WHERE aggregate_id = {aggregate}"#
    ))
    .all(db)
    .await
    .map_err(OrderError::from)?;

    // Inventory's and payment's answers are read with their contract types; the rest are
    // shown as they come.
    let (reservation, payment): (Option<Reservation>, Option<Payment>) = futures_util::join!(
        journey.fetch("inventory", format!("/reservations/{id}")),
        journey.fetch("payment", format!("/payments/{id}")),
    );
    let [emails, counted, inv_events, pay_events, mail_events, ana_events] = join_all([
        journey.fetch::<Value>("email", format!("/emails?order_id={id}")),
        journey.fetch("analytics", format!("/analytics/orders/{id}")),
        journey.fetch("inventory", format!("/processed-events?aggregate_id={id}")),
        journey.fetch("payment", format!("/processed-events?aggregate_id={id}")),
        journey.fetch("email", format!("/processed-events?aggregate_id={id}")),
        journey.fetch("analytics", format!("/processed-events?aggregate_id={id}")),
    ])
    .await
    .try_into()
    .expect("six lookups");

    let mut steps: Vec<Step> = timeline
        .iter()
        .map(|t| Step {
            service: "order",
            step: t.step.clone(),
            status: "done",
            at: Some(json!(t.at)),
            correlation_id: Some(json!(t.correlation_id)),
            detail: Some(format!(
                "{} by {}{}",
                t.outcome,
                t.actor,
                t.detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default()
            )),
        })
        .collect();
    for p in &published {
        steps.push(Step {
            service: "order",
            step: format!("publish {}", p.event_type),
            status: if p.published_at.is_some() {
                "done"
            } else {
                "pending"
            },
            at: p.published_at.map(|t| json!(t)),
            correlation_id: Some(json!(order.correlation_id)),
            detail: Some(format!(
                "written to the outbox at {}, published {} time(s)",
                p.created_at, p.attempts
            )),
        });
    }
    for (service, events) in [
        ("inventory", &inv_events),
        ("payment", &pay_events),
        ("email", &mail_events),
        ("analytics", &ana_events),
    ] {
        for e in events.as_ref().and_then(Value::as_array).into_iter().flatten() {
            steps.push(Step {
                service,
                step: format!("consume {}", e["event_type"].as_str().unwrap_or("?")),
                status: "done",
                at: Some(e["processed_at"].clone()),
                correlation_id: Some(e["correlation_id"].clone()),
                detail: None,
            });
        }
    }
    if let Some(r) = &reservation {
        steps.push(Step {
            service: "inventory",
            step: "reservation".into(),
            status: "done",
            at: None,
            correlation_id: Some(json!(r.correlation_id)),
            detail: Some(format!("reservation is {}", r.status)),
        });
    }
    if let Some(p) = &payment {
        steps.push(Step {
            service: "payment",
            step: "payment".into(),
            status: "done",
            at: Some(json!(p.updated_at)),
            correlation_id: Some(json!(p.correlation_id)),
            detail: Some(format!("payment is {}", p.status)),
        });
    }
    let email = emails
        .as_ref()
        .and_then(|e| e.as_array())
        .and_then(|a| a.first())
        .cloned();
    if let Some(e) = &email {
        steps.push(Step {
            service: "email",
            step: format!("email {}", e["kind"].as_str().unwrap_or("?")),
            status: if e["status"] == "sent" { "done" } else { "pending" },
            at: Some(e["sent_at"].clone()),
            correlation_id: Some(e["correlation_id"].clone()),
            detail: Some(format!(
                "{} to {}",
                e["status"].as_str().unwrap_or("?"),
                e["recipient"].as_str().unwrap_or("?")
            )),
        });
    }
    if let Some(c) = &counted {
        steps.push(Step {
            service: "analytics",
            step: "counted".into(),
            status: "done",
            at: Some(c["counted_at"].clone()),
            correlation_id: Some(c["correlation_id"].clone()),
            detail: Some(format!("counted as {}", c["outcome"].as_str().unwrap_or("?"))),
        });
    }

    // What is still to happen, and who owns it.
    let mut pending = Vec::new();
    let mut expect = |ok: bool, what: &str, owner: &'static str| {
        if !ok {
            pending.push(Pending {
                what: what.to_string(),
                owner,
            });
        }
    };
    expect(
        order.is_terminal(),
        "reach a terminal state (the reconciler retries or compensates)",
        "order",
    );
    expect(
        published.iter().all(|p| p.published_at.is_some()),
        "publish the outcome event (outbox relay)",
        "order",
    );
    expect(
        compensations.iter().all(|c| c.status == CompensationStatus::Done),
        "finish compensations (compensation worker)",
        "order",
    );
    let reservation_status = reservation.as_ref().map(|r| r.status);
    let payment_status = payment.as_ref().map(|p| p.status);
    match order.status {
        OrderStatus::Confirmed => {
            expect(
                reservation_status == Some(ReservationStatus::Committed),
                "commit the reserved stock",
                "inventory",
            );
            expect(
                payment_status == Some(PaymentStatus::Captured),
                "capture the payment",
                "payment",
            );
        }
        OrderStatus::Rejected | OrderStatus::Cancelled => {
            expect(
                reservation_status != Some(ReservationStatus::Reserved),
                "release the reserved stock",
                "inventory",
            );
            expect(
                !matches!(
                    payment_status,
                    Some(PaymentStatus::Authorized | PaymentStatus::Pending)
                ),
                "void the authorization",
                "payment",
            );
        }
        OrderStatus::Pending | OrderStatus::StockReserved => {}
    }
    if order.is_terminal() {
        expect(
            email.as_ref().is_some_and(|e| e["status"] == "sent"),
            "send the email",
            "email",
        );
        expect(counted.is_some(), "count the order", "analytics");
    }
    let correlation_consistent = steps
        .iter()
        .filter_map(|s| s.correlation_id.as_ref().and_then(|c| c.as_str()))
        .all(|c| c == order.correlation_id);
    Ok(HttpResponse::Ok().json(json!({
        "order_id": order.id,
        "status": order.status,
        "correlation_id": order.correlation_id,
        "done": pending.is_empty(),
        "pending": pending,
        "correlation_consistent": correlation_consistent,
        "steps": steps,
    })))
}
