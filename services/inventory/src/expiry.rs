//! Reservations whose time ran out, and who decides what happens to their stock.
//!
//! A reservation carries a TTL so that stock held for an order that will never finish
//! (the order service crashed, a compensation was lost) goes back on sale. But the timer
//! cannot tell "abandoned" from "confirmed, and the `order.confirmed` event is late": with
//! the relay or the broker down longer than the TTL, expiring would put a paid order's
//! stock back on sale, sell it again, and dead-letter the commit that arrives afterwards.
//!
//! So the sweeper only proposes; the owner of the outcome decides. For every reservation
//! past its time it asks the order service (`POST /orders/outcomes`, typed in
//! `platform_contracts::outcomes`) and then:
//!
//! | the order is               | the reservation                                        |
//! |----------------------------|--------------------------------------------------------|
//! | confirmed                  | is committed now (what the late event would do; the    |
//! |                            | event then finds it committed and is a no-op)          |
//! | rejected, cancelled        | expires: its stock goes back on sale                   |
//! | unknown to the order service | expires (the order was never created)                |
//! | still pending or reserved  | gets another TTL: the order service is still deciding  |
//!
//! And when the order service does not answer, nothing expires: stock held a little
//! longer looks sold out for a while; stock released wrongly is sold twice.

use std::time::Duration;

use platform_contracts::{
    order::OrderStatus,
    outcomes::{OUTCOMES_PATH, OutcomesRequest, OutcomesResponse},
};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::stock;

/// Due reservations handled per pass (and per question to the order service).
const BATCH: i64 = platform_contracts::outcomes::MAX_OUTCOMES_PER_REQUEST as i64;

#[derive(Clone)]
pub struct Expiry {
    pub db: DatabaseConnection,
    pub http: reqwest::Client,
    /// The order service's base URL.
    pub order_url: String,
    /// How much longer a reservation is held when its order is still being decided.
    pub ttl: Duration,
}

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub committed: usize,
    pub expired: usize,
    pub extended: usize,
    /// Due, but the order service did not answer: held until it does.
    pub kept: usize,
}

impl Expiry {
    async fn settle(&self, due: &[(Uuid, String)]) -> anyhow::Result<Swept> {
        let ids: Vec<Uuid> = due.iter().map(|(id, _)| *id).collect();
        let outcomes = match self.ask(&ids).await {
            Ok(outcomes) => outcomes,
            Err(e) => {
                tracing::warn!(error = %e, reservations = ids.len(), "the order service did not say what became of orders whose reservations are due; holding their stock until it does");
                return Ok(Swept {
                    kept: ids.len(),
                    ..Default::default()
                });
            }
        };
        let correlation: std::collections::HashMap<Uuid, &str> = due
            .iter()
            .map(|(id, correlation)| (*id, correlation.as_str()))
            .collect();
        let mut swept = Swept::default();
        let (mut expire, mut extend) = (Vec::new(), Vec::new());
        for outcome in outcomes.outcomes {
            let Some((id, correlation_id)) = correlation.get_key_value(&outcome.order_id) else {
                continue; // not asked about
            };
            match outcome.status {
                Some(OrderStatus::Confirmed) => {
                    stock::commit(&self.db, *id, correlation_id).await?;
                    tracing::warn!(order_id = %id, correlation_id, "reservation of a confirmed order ran out of time before its commit arrived; committed on the order service's word");
                    swept.committed += 1;
                }
                // Never to be confirmed, or never created: the stock goes back.
                Some(OrderStatus::Rejected | OrderStatus::Cancelled) | None => expire.push(*id),
                Some(OrderStatus::Pending | OrderStatus::StockReserved) => extend.push(*id),
            }
        }
        if !expire.is_empty() {
            stock::expire(&self.db, &expire).await?;
            swept.expired = expire.len();
        }
        if !extend.is_empty() {
            stock::extend(&self.db, &extend, self.ttl).await?;
            swept.extended = extend.len();
        }
        Ok(swept)
    }

    async fn ask(&self, order_ids: &[Uuid]) -> anyhow::Result<OutcomesResponse> {
        let url = format!("{}{OUTCOMES_PATH}", self.order_url.trim_end_matches('/'));
        let response = self
            .http
            .post(url)
            .json(&OutcomesRequest {
                order_ids: order_ids.to_vec(),
            })
            .send()
            .await?
            .error_for_status()?;
        Ok(response.json().await?)
    }
}

impl platform_service::periodic::Pass for Expiry {
    /// One pass of the sweeper. `Ok(true)` when a full batch was due (more may be waiting).
    async fn run_pass(&self) -> anyhow::Result<bool> {
        let due = stock::due(&self.db, BATCH).await?;
        if due.is_empty() {
            return Ok(false);
        }
        let swept = self.settle(&due).await?;
        for (decision, n) in [
            ("committed", swept.committed),
            ("expired", swept.expired),
            ("extended", swept.extended),
            ("kept", swept.kept),
        ] {
            metrics::counter!("reservations_due_total", "decision" => decision).increment(n as u64);
        }
        tracing::info!(
            ?swept,
            "reservations past their time settled by their orders' outcomes"
        );
        Ok(due.len() as i64 == BATCH)
    }
}
