//! The checkout saga, orchestrated by the order service, which owns its outcome.
//!
//! ```text
//!   pending ──reserve──▶ stock_reserved ──authorize──▶ confirmed
//!      │                      │
//!      │ out of stock         │ declined                    ──▶ rejected  (+ compensations)
//!      │ unknown past deadline│ unknown past deadline       ──▶ cancelled (+ compensations)
//! ```
//!
//! [`Saga::advance`] is the only code that moves an order. The checkout request calls it
//! once, inside the shopper's request; the reconciler calls it again for orders left
//! non-terminal (a timeout, a crash, a 429). Because every downstream call is idempotent
//! per order id and every transition is conditional, running it twice, or twice at once,
//! is safe: that is what makes "retry until terminal" possible at all.
//!
//! When a step's outcome is unknown (a timeout: did the payment go through?) the order is
//! *not* failed: it stays where it is and the step is retried later with the same order id,
//! which returns the original outcome. Only at the deadline does the saga give up, and then
//! it undoes everything that might have happened (void, release), each undo being a durable
//! compensation record rather than a best-effort call.
//!
//! Every terminal transition writes its event (`order.confirmed`, `order.rejected`,
//! `order.cancelled`) to the outbox in the same transaction. What happens after that
//! (commit the stock, capture the payment, send the email, count the sale) is fan-out:
//! it never makes the shopper wait, and a slow mail server never fails a checkout.

use std::time::Duration;

use chrono::Utc;
use platform_contracts::{
    Envelope, Money, OrderCancelled, OrderConfirmed, OrderLine, OrderRejected, PricedLine,
    inventory::{self, RESERVATIONS_PATH, Reservation, ReserveRequest},
    order::{CompensationKind, OrderStatus},
    payment::{AUTHORIZE_PATH, AuthorizeRequest, Declined, Payment},
};
use platform_messaging::outbox;
use platform_runtime::crash;
use platform_telemetry::CorrelationId;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait, raw_sql};
use uuid::Uuid;

use crate::{
    OrderError,
    clients::{CallError, Dependency},
    compensation::Compensations,
    orders::{self, Order},
};

use CompensationKind::{ReleaseReservation, VoidAuthorization};

#[derive(Clone)]
pub struct Saga {
    pub db: DatabaseConnection,
    pub inventory: Dependency,
    pub payment: Dependency,
    pub compensations: Compensations,
    pub retry_min: Duration,
    pub retry_max: Duration,
}

enum Step {
    /// The order moved (by us: here is where it stands now). Go on from there.
    Moved(Box<Order>),
    /// Someone else (the reconciler, a concurrent request) moved it first: look again.
    Raced,
    /// Nothing more can be done now; the reconciler comes back at `next_attempt_at`.
    Wait,
}

impl Saga {
    /// Drives the order as far as it can go now. Returns the order as it stands.
    pub async fn advance(&self, id: Uuid, actor: &str) -> Result<Order, OrderError> {
        let order = self.load(id).await?;
        self.drive(order, None, actor).await
    }

    /// [`Saga::advance`] for an order the caller has just read or written, with its lines
    /// if it has them: the checkout request, which has just created the order, starts here
    /// without reading back what it wrote.
    ///
    /// Every transition returns the updated row, so a checkout that goes straight through
    /// never reads the order at all.
    pub async fn drive(
        &self,
        mut order: Order,
        mut read_lines: Option<Vec<orders::OrderLine>>,
        actor: &str,
    ) -> Result<Order, OrderError> {
        let id = order.id;
        loop {
            if order.status.is_terminal() {
                return Ok(order);
            }
            let lines = match &mut read_lines {
                Some(lines) => lines,
                None => read_lines.insert(orders::lines(&self.db, id).await?),
            };
            let step = if Utc::now() >= order.deadline_at {
                self.give_up(&order, lines, actor).await?
            } else {
                match order.status {
                    OrderStatus::Pending => self.reserve(&order, lines, actor).await?,
                    OrderStatus::StockReserved => self.authorize(&order, lines, actor).await?,
                    // Checked above: a terminal order never gets here.
                    OrderStatus::Confirmed | OrderStatus::Rejected | OrderStatus::Cancelled => {
                        return Ok(order);
                    }
                }
            };
            order = match step {
                Step::Moved(next) => *next,
                // Whoever moved it may have priced the lines too: read both again.
                Step::Raced => {
                    read_lines = None;
                    self.load(id).await?
                }
                // Off the happy path: one more read is cheap next to the failure it reports.
                Step::Wait => return self.load(id).await,
            };
        }
    }

    async fn load(&self, id: Uuid) -> Result<Order, OrderError> {
        orders::load(&self.db, id).await?.ok_or(OrderError::NotFound)
    }

    /// Reserves the stock. On success the prices inventory charged are written to the
    /// order's lines (and to `lines`, the caller's copy).
    async fn reserve(
        &self,
        order: &Order,
        lines: &mut [orders::OrderLine],
        actor: &str,
    ) -> Result<Step, OrderError> {
        let request = ReserveRequest {
            order_id: order.id,
            lines: lines
                .iter()
                .map(|l| inventory::Line {
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                })
                .collect(),
        };
        let answer = self
            .inventory
            .post_with_retries::<Reservation>(RESERVATIONS_PATH, &request, &correlation(order))
            .await;
        match answer {
            Ok(reservation) => {
                let detail = format!("total {} minor units", reservation.total_minor);
                // The status, the total, every line's price and the timeline entry go in one
                // statement.
                let change = orders::Change {
                    total_minor: Some(reservation.total_minor),
                    prices: Some(&reservation.lines),
                    ..Default::default()
                };
                let entry = orders::Entry {
                    step: "reserve",
                    outcome: "reserved",
                    detail: Some(&detail),
                    actor,
                };
                let (from, to) = (OrderStatus::Pending, OrderStatus::StockReserved);
                let Some(moved) = orders::transition(&self.db, order.id, from, to, change, &[entry]).await?
                else {
                    return Ok(Step::Raced);
                };
                for line in lines.iter_mut() {
                    line.unit_price_minor = reservation
                        .lines
                        .iter()
                        .find(|r| r.sku == line.sku)
                        .map(|r| r.unit_price_minor);
                }
                Ok(Step::Moved(Box::new(moved)))
            }
            Err(CallError::Answered {
                status: 409, error, ..
            }) if error.code == "insufficient_stock" => {
                // Reserve is all-or-nothing: nothing is held, nothing to undo.
                let ending = Ending::rejected("out_of_stock", &error.message, &[]);
                self.finish(order, lines, ending, actor).await
            }
            Err(
                e @ CallError::Answered {
                    status: 400..=499, ..
                },
            ) if e.code() != "rate_limited" => {
                // e.g. reservation_closed: an earlier give-up released (and fenced) this order.
                let message = e.to_string();
                let ending = Ending::cancelled(e.code(), &message, &[ReleaseReservation]);
                self.finish(order, lines, ending, actor).await
            }
            Err(e) => self.defer(order, "reserve", &e, actor).await,
        }
    }

    async fn authorize(
        &self,
        order: &Order,
        lines: &[orders::OrderLine],
        actor: &str,
    ) -> Result<Step, OrderError> {
        let request = AuthorizeRequest {
            order_id: order.id,
            customer_id: order.customer_id.clone(),
            amount_minor: order.total_minor.unwrap_or_default(),
            currency: order.currency.clone(),
            card_number: order.payment_method.clone(),
        };
        let answer = self
            .payment
            .post_with_retries::<Payment>(AUTHORIZE_PATH, &request, &correlation(order))
            .await;
        match answer {
            Ok(payment) => {
                // Authorized, not yet confirmed: the reconciler must finish this order.
                crash::point("order.after_authorize");
                let reference = payment.provider_ref.as_deref().unwrap_or_default();
                let entries = [
                    orders::Entry {
                        step: "authorize",
                        outcome: "authorized",
                        detail: Some(reference),
                        actor,
                    },
                    orders::Entry {
                        step: "confirm",
                        outcome: "confirmed",
                        detail: None,
                        actor,
                    },
                ];
                let txn = self.db.begin().await?;
                let (from, to) = (OrderStatus::StockReserved, OrderStatus::Confirmed);
                let change = orders::Change::default();
                let Some(confirmed) = orders::transition(&txn, order.id, from, to, change, &entries).await?
                else {
                    // Cancelled at the deadline while we were authorizing: its compensations
                    // include a void, so this authorization is undone.
                    return Ok(Step::Raced);
                };
                // The event joins the status change's transaction: both happen or neither.
                let money = |amount_minor: Option<i64>| Money {
                    amount_minor: amount_minor.unwrap_or_default(),
                    currency: order.currency.clone(),
                };
                let event = OrderConfirmed {
                    order_id: order.id,
                    customer_id: order.customer_id.clone(),
                    lines: lines
                        .iter()
                        .map(|l| PricedLine {
                            sku: l.sku.clone(),
                            quantity: l.quantity,
                            unit_price: money(l.unit_price_minor),
                        })
                        .collect(),
                    total: money(order.total_minor),
                    confirmed_at: Utc::now(),
                };
                outbox::enqueue(
                    &txn,
                    &Envelope::new(&event, PRODUCER, &order.correlation_id, None),
                )
                .await?;
                txn.commit().await?;
                // Confirmed and its event committed, the shopper not yet answered.
                crash::point("order.after_confirm_commit");
                tracing::info!(order_id = %order.id, correlation_id = %order.correlation_id, "order confirmed");
                Ok(Step::Moved(Box::new(confirmed)))
            }
            Err(CallError::Answered {
                status: 402, error, ..
            }) => {
                let code = error
                    .details_as::<Declined>()
                    .map_or_else(|| "declined".to_string(), |d| d.decline_code);
                let message = format!("the card was declined ({code})");
                let ending = Ending::rejected("payment_declined", &message, &[ReleaseReservation]);
                self.finish(order, lines, ending, actor).await
            }
            Err(
                e @ CallError::Answered {
                    status: 400..=499, ..
                },
            ) if !matches!(e.code(), "rate_limited" | "authorization_in_progress") => {
                // The payment refuses this order for good (e.g. voided by an earlier give-up).
                let message = e.to_string();
                let undo = &[VoidAuthorization, ReleaseReservation];
                self.finish(order, lines, Ending::cancelled(e.code(), &message, undo), actor)
                    .await
            }
            Err(e) => self.defer(order, "authorize", &e, actor).await,
        }
    }

    /// The deadline passed without a definite outcome: cancel and undo whatever may have
    /// happened. Void and release are both safe on something that never happened.
    async fn give_up(
        &self,
        order: &Order,
        lines: &[orders::OrderLine],
        actor: &str,
    ) -> Result<Step, OrderError> {
        let undo: &[CompensationKind] = match order.status {
            OrderStatus::StockReserved => &[VoidAuthorization, ReleaseReservation],
            _ => &[ReleaseReservation],
        };
        let message = "no definite outcome before the order's deadline; everything that may have happened is being undone";
        self.finish(
            order,
            lines,
            Ending::cancelled("deadline_exceeded", message, undo),
            actor,
        )
        .await
    }

    /// Ends the order and records its compensations in the same transaction: the outcome
    /// and the duty to undo are never separated by a crash.
    async fn finish(
        &self,
        order: &Order,
        lines: &[orders::OrderLine],
        ending: Ending<'_>,
        actor: &str,
    ) -> Result<Step, OrderError> {
        let Ending {
            to,
            code,
            message,
            undo,
        } = ending;
        let txn = self.db.begin().await?;
        let change = orders::Change {
            reason_code: Some(code),
            reason: Some(message),
            ..Default::default()
        };
        let entry = orders::Entry {
            step: to.as_str(),
            outcome: code,
            detail: Some(message),
            actor,
        };
        let Some(ended) = orders::transition(&txn, order.id, order.status, to, change, &[entry]).await?
        else {
            return Ok(Step::Raced);
        };
        for kind in undo {
            self.compensations
                .record(&txn, order.id, *kind, &order.correlation_id)
                .await?;
        }
        let (customer_id, reason_code, reason) =
            (order.customer_id.clone(), code.to_string(), message.to_string());
        let envelope = if to == OrderStatus::Rejected {
            let lines = event_lines(lines);
            let event = OrderRejected {
                order_id: order.id,
                customer_id,
                reason_code,
                reason,
                lines,
            };
            Envelope::new(&event, PRODUCER, &order.correlation_id, None)
        } else {
            let event = OrderCancelled {
                order_id: order.id,
                customer_id,
                reason_code,
                reason,
                after_confirmation: false,
            };
            Envelope::new(&event, PRODUCER, &order.correlation_id, None)
        };
        outbox::enqueue(&txn, &envelope).await?;
        txn.commit().await?;
        tracing::info!(order_id = %order.id, correlation_id = %order.correlation_id, status = %to, reason = code, "order ended");
        if !undo.is_empty() {
            self.compensations.wake();
        }
        Ok(Step::Moved(Box::new(ended)))
    }

    /// The step's outcome is unknown or the dependency is busy: try again later, no sooner
    /// than it asked (Retry-After) and no later than the deadline.
    async fn defer(
        &self,
        order: &Order,
        step: &str,
        error: &CallError,
        actor: &str,
    ) -> Result<Step, OrderError> {
        let mut delay = platform_runtime::retry_policy::delay_for(
            order.attempts as u32,
            self.retry_min,
            self.retry_max,
            error.retry_after(),
        );
        let until_deadline = (order.deadline_at - Utc::now()).to_std().unwrap_or_default();
        delay = delay.min(until_deadline + Duration::from_millis(50));
        let delay_ms = delay.as_millis() as i64;
        let (id, status) = (order.id, order.status);
        let txn = self.db.begin().await?;
        let moved = txn
            .execute_raw(raw_sql!(
                Postgres,
                r#"UPDATE orders SET attempts = attempts + 1,
                       next_attempt_at = now() + {delay_ms} * interval '1 millisecond', updated_at = now()
                   WHERE id = {id} AND status = {status}"#
            ))
            .await?
            .rows_affected()
            == 1;
        if moved {
            let detail = format!("{error}; next attempt in {delay_ms} ms");
            orders::record(
                &txn,
                order.id,
                step,
                "retry_scheduled",
                Some(&detail),
                actor,
                &order.correlation_id,
            )
            .await?;
        }
        txn.commit().await?;
        tracing::info!(order_id = %order.id, correlation_id = %order.correlation_id, step, error = %error, delay_ms, "step deferred");
        Ok(Step::Wait)
    }
}

pub use platform_contracts::events::PRODUCER;

/// How an order ends when it does not end confirmed, and what must be undone.
struct Ending<'a> {
    to: OrderStatus,
    code: &'a str,
    message: &'a str,
    undo: &'a [CompensationKind],
}

impl<'a> Ending<'a> {
    /// Refused for a business reason the shopper can act on.
    fn rejected(code: &'a str, message: &'a str, undo: &'a [CompensationKind]) -> Self {
        Self {
            to: OrderStatus::Rejected,
            code,
            message,
            undo,
        }
    }

    /// Given up: no definite outcome, or refused downstream for good.
    fn cancelled(code: &'a str, message: &'a str, undo: &'a [CompensationKind]) -> Self {
        Self {
            to: OrderStatus::Cancelled,
            code,
            message,
            undo,
        }
    }
}

fn event_lines(lines: &[orders::OrderLine]) -> Vec<OrderLine> {
    lines
        .iter()
        .map(|l| OrderLine {
            sku: l.sku.clone(),
            quantity: l.quantity,
            unit_price_minor: l.unit_price_minor.unwrap_or_default(),
        })
        .collect()
}

/// Every call made for an order carries the correlation id of the request that created
/// it, including the reconciler's retries hours later.
fn correlation(order: &Order) -> CorrelationId {
    CorrelationId::parse(&order.correlation_id).unwrap_or_default()
}
