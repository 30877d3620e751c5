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
use platform_contracts::{
    analytics::CountedOrder,
    email::{Email, EmailStatus},
    inventory::{Reservation, ReservationStatus},
    journey::{self, Pending, ProcessedEvent, Step, StepStatus, processed_events_path},
    order::{CompensationStatus, OrderStatus},
    payment::{Payment, PaymentStatus},
};
use platform_db::reads::Tolerant;
use platform_http::{ApiError, Reader};
use sea_orm::{DatabaseConnection, FromQueryResult, raw_sql};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::{OrderError, orders};

#[derive(Clone)]
pub struct Journey {
    pub services: Vec<(&'static str, String)>,
    pub http: reqwest::Client,
    /// The order service's credential: the others show it a customer's records
    /// (`platform_http::Reader::OrderService`) once it has checked the order is theirs.
    pub credential: String,
}

#[derive(Debug, FromQueryResult)]
struct Published {
    event_type: String,
    created_at: DateTime<Utc>,
    published_at: Option<DateTime<Utc>>,
    attempts: i32,
}

/// The order's events in the outbox: written with its status changes, published or not yet.
async fn published(db: &DatabaseConnection, aggregate: &str) -> Result<Vec<Published>, OrderError> {
    Ok(Published::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT event_type, created_at, published_at, attempts FROM outbox WHERE aggregate_id = {aggregate}"#
    ))
    .all(db)
    .await?)
}

impl Journey {
    /// One service's answer, read with its contract type; `None` when the service is down,
    /// has nothing, or answers something else (the journey shows what it could learn).
    async fn fetch<T: DeserializeOwned>(&self, service: &str, path: String) -> Option<T> {
        let base = &self.services.iter().find(|(name, _)| *name == service)?.1;
        let res = self
            .http
            .get(format!("{base}{path}"))
            .header("authorization", &self.credential)
            .send()
            .await
            .ok()?;
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

fn step(
    service: &str,
    step: String,
    done: bool,
    at: Option<DateTime<Utc>>,
    correlation_id: &str,
    detail: Option<String>,
) -> Step {
    Step {
        service: service.to_string(),
        step,
        status: if done {
            StepStatus::Done
        } else {
            StepStatus::Pending
        },
        at,
        correlation_id: Some(correlation_id.to_string()),
        detail,
    }
}

/// A tolerant read, here and in every service it asks: a journey shows "pending" for a
/// step until the replica it reads has it, a moment later.
async fn journey_of(
    reader: Reader,
    journey: web::Data<Journey>,
    db: Tolerant,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let db = &*db;
    let order = orders::load(db, id)
        .await?
        .filter(|o| reader.may_read(&o.customer_id))
        .ok_or(OrderError::NotFound)?;
    let (_, timeline, compensations) = orders::details(db, id).await?;
    let aggregate = id.to_string();
    let published = published(db, &aggregate).await?;

    // Every other service's part, asked at once, each answer read with its contract type.
    let (reservation, payment, emails, counted): (
        Option<Reservation>,
        Option<Payment>,
        Option<Vec<Email>>,
        Option<CountedOrder>,
    ) = futures_util::join!(
        journey.fetch("inventory", format!("/reservations/{id}")),
        journey.fetch("payment", format!("/payments/{id}")),
        journey.fetch("email", format!("/emails?order_id={id}")),
        journey.fetch("analytics", format!("/analytics/orders/{id}")),
    );
    let consumers = ["inventory", "payment", "email", "analytics"];
    let processed: Vec<Option<Vec<ProcessedEvent>>> = futures_util::future::join_all(
        consumers.map(|service| journey.fetch(service, processed_events_path(&aggregate))),
    )
    .await;

    let mut steps: Vec<Step> = timeline
        .iter()
        .map(|t| {
            let detail = format!(
                "{} by {}{}",
                t.outcome,
                t.actor,
                t.detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default()
            );
            step(
                "order",
                t.step.clone(),
                true,
                Some(t.at),
                &t.correlation_id,
                Some(detail),
            )
        })
        .collect();
    for p in &published {
        let detail = format!(
            "written to the outbox at {}, published {} time(s)",
            p.created_at, p.attempts
        );
        let what = format!("publish {}", p.event_type);
        steps.push(step(
            "order",
            what,
            p.published_at.is_some(),
            p.published_at,
            &order.correlation_id,
            Some(detail),
        ));
    }
    for (service, events) in consumers.iter().zip(&processed) {
        for e in events.iter().flatten() {
            let what = format!("consume {}", e.event_type);
            steps.push(step(
                service,
                what,
                true,
                Some(e.processed_at),
                &e.correlation_id,
                None,
            ));
        }
    }
    if let Some(r) = &reservation {
        let detail = format!("reservation is {}", r.status);
        steps.push(step(
            "inventory",
            "reservation".into(),
            true,
            None,
            &r.correlation_id,
            Some(detail),
        ));
    }
    if let Some(p) = &payment {
        let detail = format!("payment is {}", p.status);
        steps.push(step(
            "payment",
            "payment".into(),
            true,
            Some(p.updated_at),
            &p.correlation_id,
            Some(detail),
        ));
    }
    let email = emails.as_ref().and_then(|e| e.first());
    if let Some(e) = email {
        let detail = format!("{} to {}", e.status, e.recipient);
        let (what, sent) = (format!("email {}", e.kind), e.status == EmailStatus::Sent);
        steps.push(step(
            "email",
            what,
            sent,
            e.sent_at,
            &e.correlation_id,
            Some(detail),
        ));
    }
    if let Some(c) = &counted {
        let detail = format!("counted as {}", c.outcome);
        steps.push(step(
            "analytics",
            "counted".into(),
            true,
            Some(c.counted_at),
            &c.correlation_id,
            Some(detail),
        ));
    }

    // What is still to happen, and who owns it.
    let mut pending = Vec::new();
    let mut expect = |ok: bool, what: &str, owner: &str| {
        if !ok {
            pending.push(Pending {
                what: what.to_string(),
                owner: owner.to_string(),
            });
        }
    };
    expect(
        order.status.is_terminal(),
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
    if order.status.is_terminal() {
        expect(
            email.is_some_and(|e| e.status == EmailStatus::Sent),
            "send the email",
            "email",
        );
        expect(counted.is_some(), "count the order", "analytics");
    }
    let correlation_consistent = steps
        .iter()
        .filter_map(|s| s.correlation_id.as_deref())
        .all(|c| c == order.correlation_id);
    Ok(HttpResponse::Ok().json(journey::Journey {
        order_id: order.id,
        status: order.status,
        correlation_id: order.view.correlation_id,
        done: pending.is_empty(),
        pending,
        correlation_consistent,
        steps,
    }))
}
