//! What inventory does when the order service announces an outcome (the secondary path):
//! a confirmed order's reservation becomes sold stock; a cancelled order's is released.
//! Both run inside the idempotent consumer's transaction, so a redelivered event has no
//! second effect.

use platform_contracts::{Envelope, Event, OrderCancelled, OrderConfirmed, OrderEvent};
use platform_messaging::{Handler, HandlerError, effects::ConfirmedEffect};
use sea_orm::DatabaseTransaction;

use crate::{
    InventoryError,
    stock::{self, Settle},
};

pub const BINDINGS: &[&str] = &[OrderConfirmed::TYPE, OrderCancelled::TYPE];

pub struct OrderEvents;

impl Handler for OrderEvents {
    const CONFIRMED_EFFECT: ConfirmedEffect = ConfirmedEffect {
        description: "stock committed",
        sql: "SELECT order_id, count(*) AS count FROM reservations WHERE order_id = ANY($1) AND status = 'committed' GROUP BY order_id",
    };

    async fn handle(&self, txn: &DatabaseTransaction, envelope: &Envelope) -> Result<(), HandlerError> {
        let (order_id, how) = match OrderEvent::decode(envelope)? {
            OrderEvent::Confirmed(e) => (e.order_id, Settle::Commit),
            // A customer's cancel of a confirmed order: the order service returns the stock
            // itself (a durable compensation, `return_stock`), after the commit or before it.
            OrderEvent::Cancelled(e) if e.after_confirmation => return Ok(()),
            OrderEvent::Cancelled(e) => (e.order_id, Settle::Release),
            // A rejected order never held stock.
            e @ (OrderEvent::Rejected(_) | OrderEvent::Heartbeat(_)) => {
                return Err(HandlerError::not_bound(e.event_type()));
            }
        };
        stock::settle(txn, order_id, how, &envelope.correlation_id)
            .await
            .map_err(|e| match e {
                InventoryError::Database(e) => HandlerError::Transient(e.to_string()),
                // e.g. committing a reservation that already expired: retrying cannot
                // help, a person must look (the dead letter says why).
                other => HandlerError::Permanent(other.to_string()),
            })?;
        Ok(())
    }

    /// One event per transaction. Settling an order locks its products, the hottest rows
    /// of the platform, which every reservation on the critical path needs too. A batch
    /// would lock them order after order, out of SKU order (deadlocking with reservations),
    /// and even locked up front in order it would hold them for the whole batch, making
    /// shoppers wait for the fan-out: the saved commits are not worth that here.
    fn batchable(&self) -> bool {
        false
    }
}
