//! What payment does when the order service announces an outcome (the secondary path):
//! a confirmed order's authorization is captured; a cancelled order's is voided. Both run
//! inside the idempotent consumer's transaction, so a redelivered event never captures twice.

use platform_contracts::{
    Envelope, Event, OrderCancelled, OrderConfirmed, OrderEvent, payment::PaymentStatus,
};
use platform_messaging::{Handler, HandlerError, effects::ConfirmedEffect};
use sea_orm::DatabaseTransaction;

use crate::{
    PaymentError,
    ledger::{self, Movement},
};

pub const BINDINGS: &[&str] = &[OrderConfirmed::TYPE, OrderCancelled::TYPE];

pub struct OrderEvents;

impl Handler for OrderEvents {
    const CONFIRMED_EFFECT: ConfirmedEffect = ConfirmedEffect {
        // Captured once per order by construction (one row, a guarded status change);
        // what can happen twice is the provider call behind it: a double charge.
        description: "card charged",
        sql: "SELECT order_id, provider_calls::bigint AS count FROM payments WHERE order_id = ANY($1) AND status IN ('captured', 'refunded')",
    };

    async fn handle(&self, txn: &DatabaseTransaction, envelope: &Envelope) -> Result<(), HandlerError> {
        let (order_id, movement) = match OrderEvent::decode(envelope)? {
            OrderEvent::Confirmed(e) => (e.order_id, Movement::Capture),
            // A customer's cancel of a confirmed order: the order service refunds (or voids)
            // the payment itself, through a durable, retried compensation.
            OrderEvent::Cancelled(e) if e.after_confirmation => return Ok(()),
            OrderEvent::Cancelled(e) => (e.order_id, Movement::Void),
            // A rejected order was never authorized, or its compensation voids it.
            e @ (OrderEvent::Rejected(_) | OrderEvent::Heartbeat(_)) => {
                return Err(HandlerError::not_bound(e.event_type()));
            }
        };
        match ledger::transition(txn, order_id, movement).await {
            Ok(_) => Ok(()),
            // Voiding a payment that never reached us: the compensation path fences it.
            Err(PaymentError::NotFound) if matches!(movement, Movement::Void) => Ok(()),
            Err(PaymentError::WrongState(PaymentStatus::Declined)) if matches!(movement, Movement::Void) => {
                Ok(())
            }
            // The customer cancelled before the capture arrived, and the refund voided the
            // hold: nothing is left to capture. A confirmed order's payment is voided by
            // nothing else (the saga voids only orders it did not confirm).
            Err(PaymentError::WrongState(PaymentStatus::Voided)) if matches!(movement, Movement::Capture) => {
                Ok(())
            }
            Err(PaymentError::Database(e)) => Err(HandlerError::Transient(e.to_string())),
            Err(other) => Err(HandlerError::Permanent(other.to_string())),
        }
    }
}
