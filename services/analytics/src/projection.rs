//! Applies order events to the read model, inside the idempotent consumer's transaction.

use chrono::{DateTime, Utc};
use platform_contracts::{
    Envelope, Event, Heartbeat, OrderCancelled, OrderConfirmed, OrderEvent, OrderRejected, order::OrderStatus,
};
use platform_messaging::{Handler, HandlerError, effects::ConfirmedEffect};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, raw_sql};
use uuid::Uuid;

pub const BINDINGS: &[&str] = &[
    OrderConfirmed::TYPE,
    OrderRejected::TYPE,
    OrderCancelled::TYPE,
    Heartbeat::TYPE,
];

pub struct Projection;

/// How many rows each counter is spread over. Concurrent consumer transactions that add to
/// the same counter would otherwise queue on one row lock (see the counter-slots migration);
/// with the slot taken from the event id, two events collide only one time in `SLOTS`.
const SLOTS: u128 = 8;

fn slot(envelope: &Envelope) -> i16 {
    // UUIDv7: the low bits are random, the high bits are the time.
    (envelope.event_id.as_u128() % SLOTS) as i16
}

impl Handler for Projection {
    const CONFIRMED_EFFECT: ConfirmedEffect = ConfirmedEffect {
        description: "order counted",
        sql: "SELECT order_id, count(*) AS count FROM counted_orders WHERE order_id = ANY($1) AND outcome = 'confirmed' GROUP BY order_id",
    };

    async fn handle(&self, txn: &DatabaseTransaction, envelope: &Envelope) -> Result<(), HandlerError> {
        let (at, slot) = (envelope.occurred_at, slot(envelope));
        match OrderEvent::decode(envelope)? {
            OrderEvent::Confirmed(e) => {
                if count(
                    txn,
                    e.order_id,
                    OrderStatus::Confirmed,
                    e.total.amount_minor,
                    envelope,
                )
                .await?
                {
                    // Every line in one statement (a JSON array the database unpacks). The
                    // revenue is computed here, from the line's price as the contract gives
                    // it: SQL reading a payload field by name is a reader no compiler sees.
                    let lines: serde_json::Value = e
                        .lines
                        .iter()
                        .map(|l| {
                            let revenue_minor = l.unit_price.amount_minor * i64::from(l.quantity);
                            serde_json::json!({ "sku": l.sku, "quantity": l.quantity, "revenue_minor": revenue_minor })
                        })
                        .collect();
                    txn.execute_raw(raw_sql!(
                        Postgres,
                        r#"INSERT INTO product_sales (sku, slot, units, revenue_minor)
                           SELECT l.sku, {slot}, l.quantity, l.revenue_minor
                           FROM jsonb_to_recordset({lines}) AS l(sku text, quantity bigint, revenue_minor bigint)
                           ON CONFLICT (sku, slot) DO UPDATE SET units = product_sales.units + EXCLUDED.units,
                               revenue_minor = product_sales.revenue_minor + EXCLUDED.revenue_minor"#
                    ))
                    .await?;
                }
            }
            OrderEvent::Rejected(e) => {
                if count(txn, e.order_id, OrderStatus::Rejected, 0, envelope).await? {
                    reason(txn, &e.reason_code, slot).await?;
                }
            }
            // A confirmed order its customer cancelled: it was counted once, as confirmed;
            // the cancellation is counted by its reason (once: the consumer applies each
            // event once, processed_events).
            OrderEvent::Cancelled(e) if e.after_confirmation => {
                reason(txn, &e.reason_code, slot).await?;
            }
            OrderEvent::Cancelled(e) => {
                if count(txn, e.order_id, OrderStatus::Cancelled, 0, envelope).await? {
                    reason(txn, &e.reason_code, slot).await?;
                }
            }
            OrderEvent::Heartbeat(e) => {
                let (producer, sent_at) = (e.producer, e.sent_at);
                let newest = txn
                    .query_one_raw(raw_sql!(
                        Postgres,
                        r#"INSERT INTO heartbeats (producer, sent_at, received_at) VALUES ({producer}, {sent_at}, now())
                           ON CONFLICT (producer) DO UPDATE
                           SET sent_at = GREATEST(heartbeats.sent_at, EXCLUDED.sent_at), received_at = now()
                           RETURNING sent_at"#
                    ))
                    .await?;
                // The newest heartbeat applied (a late one never moves it back), as a Unix
                // time: Prometheus' projection_stale rule (scripts/prometheus/alerts.yml)
                // alerts on its age. Set before the commit; a transaction that fails after
                // this is redelivered and retried.
                if let Some(row) = newest {
                    let newest: DateTime<Utc> = row.try_get("", "sent_at")?;
                    metrics::gauge!("analytics_last_heartbeat_timestamp_seconds")
                        .set(newest.timestamp_millis() as f64 / 1000.0);
                }
            }
        }
        txn.execute_raw(raw_sql!(
            Postgres,
            r#"INSERT INTO projection_status (name, slot, last_event_at, last_processed_at) VALUES ('orders', {slot}, {at}, now())
               ON CONFLICT (name, slot) DO UPDATE
               SET last_event_at = GREATEST(projection_status.last_event_at, EXCLUDED.last_event_at),
                   last_processed_at = now()"#
        ))
        .await?;
        Ok(())
    }
}

/// Counts an order once (per outcome it can only have one), with its correlation id, and
/// adds it to its minute. Returns false if it was already counted.
async fn count(
    txn: &DatabaseTransaction,
    order_id: Uuid,
    outcome: OrderStatus,
    total: i64,
    envelope: &Envelope,
) -> Result<bool, DbErr> {
    let outcome = outcome.as_str();
    let (correlation, at, slot) = (
        envelope.correlation_id.as_str(),
        envelope.occurred_at,
        slot(envelope),
    );
    // The order is counted and added to its minute in one statement: the minute's row is
    // only touched when the insert into `counted_orders` found the order new.
    let first = txn
        .execute_raw(raw_sql!(
            Postgres,
            r#"WITH counted AS (
                   INSERT INTO counted_orders (order_id, outcome, total_minor, correlation_id, occurred_at)
                   VALUES ({order_id}, {outcome}, {total}, {correlation}, {at})
                   ON CONFLICT (order_id) DO NOTHING
                   RETURNING occurred_at, outcome, total_minor)
               INSERT INTO orders_per_minute (minute, outcome, slot, orders, revenue_minor)
               SELECT date_trunc('minute', occurred_at), outcome, {slot}, 1, total_minor FROM counted
               ON CONFLICT (minute, outcome, slot) DO UPDATE SET orders = orders_per_minute.orders + 1,
                   revenue_minor = orders_per_minute.revenue_minor + EXCLUDED.revenue_minor"#
        ))
        .await?
        .rows_affected()
        == 1;
    Ok(first)
}

async fn reason(txn: &DatabaseTransaction, code: &str, slot: i16) -> Result<(), DbErr> {
    txn.execute_raw(raw_sql!(
        Postgres,
        r#"INSERT INTO rejection_reasons (reason_code, slot, orders) VALUES ({code}, {slot}, 1)
           ON CONFLICT (reason_code, slot) DO UPDATE SET orders = rejection_reasons.orders + 1"#
    ))
    .await?;
    Ok(())
}
