//! The invariant checker: run after every load scenario, it reads each service's database
//! and the broker, and states whether the platform's promises held.
//!
//!   no oversell, stock conserved          available + reserved + sold = initial, all >= 0
//!   reservations match stock              reserved / sold equal the lines of reserved / committed reservations
//!   no double authorization or capture    provider called once per payment; held and captured
//!                                         equal the payments in those states, per account
//!   every order terminal                  none pending or stock_reserved
//!   confirmed orders fully fanned out     one committed reservation, one capture, one email,
//!                                         one analytics count each
//!   failed orders fully undone            no stock held, no money held
//!   outbox drained                        nothing unpublished
//!   queues empty except dead letters      dead letters are listed with their reasons
//!
//! Effects are eventually consistent, so it re-evaluates until every invariant holds or the
//! settle time (`--settle-secs`, default 60) runs out, prints each invariant with its counts,
//! and exits 1 if any is violated.
//!
//! Database URLs default to the `./dev` stack (`ORDER_DATABASE_URL`, `INVENTORY_DATABASE_URL`,
//! `PAYMENT_DATABASE_URL`, `EMAIL_DATABASE_URL`, `ANALYTICS_DATABASE_URL`); the broker from
//! `RABBITMQ_MANAGEMENT_URL` and `AMQP_URL`. It only reads.

use std::{collections::HashSet, time::Duration};

use platform_messaging::management::{Management, vhost_of};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};

pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub counts: String,
}

pub fn db_url(service: &str) -> String {
    let var = format!("{}_DATABASE_URL", service.to_uppercase());
    platform_config::string(
        &var,
        &format!(
            "postgres://{service}:{service}@127.0.0.1:{}/{service}",
            platform_config::DEV_PG_PORT
        ),
    )
}

pub async fn scalar(db: &DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            sql.to_string(),
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("no row: {sql}"))?;
    Ok(row.try_get_by_index::<Option<i64>>(0)?.unwrap_or(0))
}

pub async fn ids(db: &DatabaseConnection, sql: &str) -> anyhow::Result<HashSet<String>> {
    let rows = db
        .query_all_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            sql.to_string(),
        ))
        .await?;
    rows.iter()
        .map(|r| Ok(r.try_get_by_index::<String>(0)?))
        .collect()
}

pub struct Platform {
    pub order: DatabaseConnection,
    pub inventory: DatabaseConnection,
    pub payment: DatabaseConnection,
    pub email: DatabaseConnection,
    pub analytics: DatabaseConnection,
    pub management: Management,
    pub vhost: String,
}

impl Platform {
    /// Every invariant once, and the dead letters (queue, count, a sample of reasons).
    pub async fn evaluate(&self) -> anyhow::Result<(Vec<Check>, Vec<Value>)> {
        let mut checks = Vec::new();
        let mut push = |name, ok, counts: String| checks.push(Check { name, ok, counts });

        let products = scalar(&self.inventory, "SELECT count(*) FROM products").await?;
        let broken = scalar(
            &self.inventory,
            "SELECT count(*) FROM products WHERE available < 0 OR reserved < 0 OR sold < 0 \
             OR available + reserved + sold <> initial_stock OR sold > initial_stock",
        )
        .await?;
        let sold = scalar(&self.inventory, "SELECT sum(sold)::bigint FROM products").await?;
        push(
            "no oversell, stock conserved",
            broken == 0,
            format!("{products} products, {broken} violating, {sold} units sold"),
        );

        let mismatched = scalar(
            &self.inventory,
            "SELECT count(*) FROM products p LEFT JOIN (
                 SELECT l.sku,
                        sum(l.quantity) FILTER (WHERE r.status = 'reserved') AS reserved,
                        sum(l.quantity) FILTER (WHERE r.status = 'committed') AS sold
                 FROM reservation_lines l JOIN reservations r USING (order_id) GROUP BY l.sku) x ON x.sku = p.sku
             WHERE p.reserved <> COALESCE(x.reserved, 0) OR p.sold <> COALESCE(x.sold, 0)",
        )
        .await?;
        push(
            "reservations match stock",
            mismatched == 0,
            format!("{mismatched} products whose buckets differ from their reservations"),
        );

        let multi_calls = scalar(
            &self.payment,
            "SELECT count(*) FROM payments WHERE provider_calls > 1",
        )
        .await?;
        let money = scalar(
            &self.payment,
            "SELECT count(*) FROM accounts a LEFT JOIN (
                 SELECT customer_id,
                        sum(amount_minor) FILTER (WHERE status = 'authorized') AS held,
                        sum(amount_minor) FILTER (WHERE status = 'captured') AS captured
                 FROM payments GROUP BY customer_id) p USING (customer_id)
             WHERE a.held_minor <> COALESCE(p.held, 0) OR a.captured_minor <> COALESCE(p.captured, 0)",
        )
        .await?;
        let captured = scalar(
            &self.payment,
            "SELECT count(*) FROM payments WHERE status = 'captured'",
        )
        .await?;
        push(
            "no double authorization or capture",
            multi_calls == 0 && money == 0,
            format!(
                "{captured} captured payments, {multi_calls} with more than one provider call, {money} accounts whose held/captured differ from their payments"
            ),
        );

        let total = scalar(&self.order, "SELECT count(*) FROM orders").await?;
        let open = scalar(
            &self.order,
            "SELECT count(*) FROM orders WHERE status IN ('pending', 'stock_reserved')",
        )
        .await?;
        push(
            "every order terminal",
            open == 0,
            format!("{total} orders, {open} not terminal"),
        );

        // Orders whose customer cancelled them after they were confirmed (services/order/src/
        // cancel.rs): they were fanned out like every confirmed order, then given back.
        let cancelled_by_customer = ids(
            &self.order,
            "SELECT id::text FROM orders WHERE status = 'cancelled' AND reason_code = 'cancelled_by_customer'",
        )
        .await?;
        let confirmed: HashSet<String> = ids(
            &self.order,
            "SELECT id::text FROM orders WHERE status = 'confirmed'",
        )
        .await?
        .union(&cancelled_by_customer)
        .cloned()
        .collect();
        let committed = ids(
            &self.inventory,
            "SELECT order_id::text FROM reservations WHERE status IN ('committed', 'returned')",
        )
        .await?;
        let voided = ids(
            &self.payment,
            "SELECT order_id::text FROM payments WHERE status = 'voided'",
        )
        .await?;
        // A cancel that came before the capture voided the hold instead of refunding it.
        let captured_ids: HashSet<String> = ids(
            &self.payment,
            "SELECT order_id::text FROM payments WHERE status IN ('captured', 'refunded')",
        )
        .await?
        .union(&voided.intersection(&cancelled_by_customer).cloned().collect())
        .cloned()
        .collect();
        let emailed = ids(
            &self.email,
            "SELECT order_id::text FROM emails WHERE kind = 'order_confirmed' AND status = 'sent'",
        )
        .await?;
        let counted = ids(
            &self.analytics,
            "SELECT order_id::text FROM counted_orders WHERE outcome = 'confirmed'",
        )
        .await?;
        let missing = |set: &HashSet<String>| confirmed.difference(set).count();
        let extra = |set: &HashSet<String>| set.difference(&confirmed).count();
        let (m_commit, m_capture, m_email, m_count) = (
            missing(&committed),
            missing(&captured_ids),
            missing(&emailed),
            missing(&counted),
        );
        let (x_commit, x_capture, x_email, x_count) = (
            extra(&committed),
            extra(&captured_ids),
            extra(&emailed),
            extra(&counted),
        );
        push(
            "confirmed orders fully fanned out",
            m_commit + m_capture + m_email + m_count + x_commit + x_capture + x_email + x_count == 0,
            format!(
                "{} confirmed; missing: {m_commit} stock commits, {m_capture} captures, {m_email} emails, {m_count} analytics counts; \
                 for unconfirmed orders: {x_commit} commits, {x_capture} captures, {x_email} confirmation emails, {x_count} counts",
                confirmed.len()
            ),
        );
        let still_sold = ids(
            &self.inventory,
            "SELECT order_id::text FROM reservations WHERE status IN ('reserved', 'committed')",
        )
        .await?;
        let still_charged = ids(
            &self.payment,
            "SELECT order_id::text FROM payments WHERE status IN ('authorized', 'pending', 'captured')",
        )
        .await?;
        let (kept_stock, kept_money) = (
            cancelled_by_customer.intersection(&still_sold).count(),
            cancelled_by_customer.intersection(&still_charged).count(),
        );
        push(
            "cancelled orders given back",
            kept_stock + kept_money == 0,
            format!(
                "{} cancelled by their customer; {kept_stock} still hold stock, {kept_money} still hold or took money",
                cancelled_by_customer.len()
            ),
        );
        let duplicate_emails = scalar(
            &self.email,
            "SELECT count(*) FROM (SELECT order_id, kind FROM emails GROUP BY 1, 2 HAVING count(*) > 1) d",
        )
        .await?;
        push(
            "one email per order and kind",
            duplicate_emails == 0,
            format!("{duplicate_emails} duplicates"),
        );

        let failed = ids(
            &self.order,
            "SELECT id::text FROM orders WHERE status IN ('rejected', 'cancelled')",
        )
        .await?;
        let held_stock = ids(
            &self.inventory,
            "SELECT order_id::text FROM reservations WHERE status = 'reserved'",
        )
        .await?;
        let held_money = ids(
            &self.payment,
            "SELECT order_id::text FROM payments WHERE status IN ('authorized', 'pending')",
        )
        .await?;
        let (stock_left, money_left) = (
            failed.intersection(&held_stock).count(),
            failed.intersection(&held_money).count(),
        );
        push(
            "failed orders fully undone",
            stock_left + money_left == 0,
            format!(
                "{} rejected or cancelled; {stock_left} still hold stock, {money_left} still hold money",
                failed.len()
            ),
        );

        let unpublished = scalar(
            &self.order,
            "SELECT count(*) FROM outbox WHERE published_at IS NULL",
        )
        .await?;
        push(
            "outbox drained",
            unpublished == 0,
            format!("{unpublished} unpublished events"),
        );

        let queues = self.management.get(&format!("api/queues/{}", self.vhost)).await?;
        let mut busy = Vec::new();
        let mut dead = Vec::new();
        for q in queues.as_array().into_iter().flatten() {
            let name = q["name"].as_str().unwrap_or_default().to_string();
            let messages = q["messages"].as_u64().unwrap_or(0);
            if messages == 0 {
                continue;
            }
            if name.ends_with(".dlq") {
                dead.push((name, messages));
            } else {
                busy.push(format!("{name}={messages}"));
            }
        }
        push(
            "queues empty except dead letters",
            busy.is_empty(),
            if busy.is_empty() {
                "all consumer and retry queues empty".into()
            } else {
                busy.join(", ")
            },
        );

        let mut letters = Vec::new();
        for (queue, count) in dead {
            let peek = self
                .management
                .call(
                    reqwest::Method::POST,
                    &format!("api/queues/{}/{queue}/get", self.vhost),
                    Some(json!({ "count": 20, "ackmode": "ack_requeue_true", "encoding": "auto" })),
                )
                .await
                .unwrap_or_default();
            let reasons: Vec<Value> = peek
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| {
                    json!({
                        "event_id": m["properties"]["message_id"],
                        "reason": m["properties"]["headers"]["x-death-reason"],
                    })
                })
                .collect();
            letters.push(json!({ "queue": queue, "count": count, "sample": reasons }));
        }
        Ok((checks, letters))
    }
}

impl Platform {
    /// Connects to the five databases and the broker's management API named by the
    /// environment (defaults: the `./dev` stack).
    pub async fn from_env() -> anyhow::Result<Self> {
        let amqp = platform_config::string(
            "AMQP_URL",
            &format!(
                "amqp://platform:platform@127.0.0.1:{}/platform",
                platform_config::DEV_AMQP_PORT
            ),
        );
        Ok(Platform {
            order: Database::connect(db_url("order")).await?,
            inventory: Database::connect(db_url("inventory")).await?,
            payment: Database::connect(db_url("payment")).await?,
            email: Database::connect(db_url("email")).await?,
            analytics: Database::connect(db_url("analytics")).await?,
            management: Management::new(&platform_config::string(
                "RABBITMQ_MANAGEMENT_URL",
                &format!(
                    "http://platform:platform@127.0.0.1:{}",
                    platform_config::DEV_RABBITMQ_MGMT_PORT
                ),
            ))?,
            vhost: vhost_of(&amqp),
        })
    }
}

/// The value after `--name` on the command line, parsed.
pub fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

/// Prints each invariant with its counts and the dead letters; returns how many failed.
pub fn print_report(checks: &[Check], letters: &[Value], settled: Duration, settle: u64) -> usize {
    println!(
        "Invariants (settled after {:.1} s, limit {settle} s):",
        settled.as_secs_f64()
    );
    for c in checks {
        println!(
            "  [{}] {:<36} {}",
            if c.ok { "PASS" } else { "FAIL" },
            c.name,
            c.counts
        );
    }
    if letters.is_empty() {
        println!("Dead letters: none");
    } else {
        println!("Dead letters (listed, not a violation):");
        for l in letters {
            println!(
                "  {} x{}: {}",
                l["queue"].as_str().unwrap_or("?"),
                l["count"],
                l["sample"]
            );
        }
    }
    let violations = checks.iter().filter(|c| !c.ok).count();
    println!("{} passed, {violations} failed", checks.len() - violations);
    violations
}
