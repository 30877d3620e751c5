//! The chaos run's judge: what the clients were told (the ledger k6 writes, one JSON line
//! per POST attempt and one final line per Idempotency-Key) held against what every
//! database says happened, Jepsen-style.
//!
//!   LOST         the client was told "confirmed", or got a 201/202 naming an order, and
//!                the order is missing or not confirmed; or a confirmed order lacks one of
//!                its effects (committed reservation, captured payment, confirmation email
//!                sent, analytics count)
//!   DUPLICATED   an effect more than once: more than one order for one key, answers for
//!                one key naming different orders, more than one reservation, payment,
//!                email of a kind or analytics count for one order, a payment authorized
//!                more than once, more money captured from a shopper than their order cost
//!   UNEXPECTED   something nobody in the ledger asked for: an order created during the run
//!                whose shopper is not in the ledger, an effect created during the run for
//!                an order that does not exist, an order confirmed although its client was
//!                told it was rejected or cancelled
//!   RECOVERED    the client never got a definitive answer (gave up), and the order still
//!                ended terminal: the platform finished what the client abandoned
//!
//! Scope: the ledger's keys (each key has a shopper of its own, so "orders of the key" are
//! the orders of that customer id) and every order created between the ledger's first
//! attempt and its last record (each widened by a second). Orders from earlier runs are
//! left alone: the chaos run starts from whatever state it finds.
//!
//! Faults (one JSON line each, written by `./dev chaos`) give each fault's client-visible
//! failure window: from the first failed attempt after the fault started to the last
//! failed attempt before success resumed, and the time to recover, from the fault's end
//! (the component restarted, the relay resumed) to the first definitive answer after it;
//! failed attempts after that (stragglers) and 202s are counted too.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};

/// One POST /orders.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub n: u64,
    pub sent_ms: i64,
    /// When the answer (or the error) came.
    pub ts: i64,
    /// HTTP status; 0 for a transport error or timeout.
    pub status: u64,
    pub error: Option<String>,
    /// `error.code` of an error body (e.g. `request_in_flight`).
    pub code: Option<String>,
    pub order_id: Option<String>,
}

impl Attempt {
    /// A definitive answer: the order as it stands (201, 202, 402) or a rejection (409
    /// naming a rejected order). Everything else (transport error, timeout, 5xx, 409 in
    /// flight) made the client try again.
    pub fn succeeded(&self) -> bool {
        matches!(self.status, 201 | 202 | 402)
            || (self.status == 409 && self.code.is_none() && self.order_id.is_some())
    }

    pub fn failed(&self) -> bool {
        !self.succeeded() && (self.status == 0 || self.status >= 500 || self.status == 409)
    }
}

#[derive(Debug, Clone)]
pub struct Final {
    /// confirmed, rejected, cancelled or unknown.
    pub outcome: String,
    pub order_id: Option<String>,
    pub ts: i64,
}

#[derive(Debug, Clone, Default)]
pub struct KeyRecord {
    pub customer: String,
    pub attempts: Vec<Attempt>,
    pub last: Option<Final>,
}

#[derive(Debug, Default)]
pub struct Ledger {
    pub keys: BTreeMap<String, KeyRecord>,
    pub start_ms: i64,
    pub end_ms: i64,
    /// Lines that were not ledger records (k6's own warnings share the log file).
    pub other_lines: usize,
}

fn string(v: &Value, field: &str) -> Option<String> {
    v[field].as_str().map(str::to_string)
}

fn int(v: &Value, field: &str) -> i64 {
    v[field]
        .as_i64()
        .or_else(|| v[field].as_f64().map(|f| f as i64))
        .unwrap_or(0)
}

impl Ledger {
    /// Reads the JSON lines `{"ledger":"attempt",...}` and `{"ledger":"final",...}`; any
    /// other line is counted and skipped.
    pub fn parse(text: &str) -> Ledger {
        let mut ledger = Ledger {
            start_ms: i64::MAX,
            end_ms: i64::MIN,
            ..Default::default()
        };
        for line in text.lines() {
            let line = line.trim();
            let record: Value = match line.starts_with('{').then(|| serde_json::from_str(line)) {
                Some(Ok(v)) => v,
                _ => {
                    ledger.other_lines += usize::from(!line.is_empty());
                    continue;
                }
            };
            let (Some(kind), Some(key)) = (record["ledger"].as_str(), string(&record, "key")) else {
                ledger.other_lines += 1;
                continue;
            };
            let entry = ledger.keys.entry(key).or_default();
            if let Some(customer) = string(&record, "customer") {
                entry.customer = customer;
            }
            match kind {
                "attempt" => {
                    let a = Attempt {
                        n: record["n"].as_u64().unwrap_or(0),
                        sent_ms: int(&record, "sent_ms"),
                        ts: int(&record, "ts"),
                        status: record["status"].as_u64().unwrap_or(0),
                        error: string(&record, "error"),
                        code: string(&record, "code"),
                        order_id: string(&record, "order_id"),
                    };
                    ledger.start_ms = ledger.start_ms.min(a.sent_ms.min(a.ts));
                    ledger.end_ms = ledger.end_ms.max(a.ts);
                    entry.attempts.push(a);
                }
                "final" => {
                    let f = Final {
                        outcome: string(&record, "outcome").unwrap_or_else(|| "unknown".into()),
                        order_id: string(&record, "order_id"),
                        ts: int(&record, "ts"),
                    };
                    ledger.end_ms = ledger.end_ms.max(f.ts);
                    entry.last = Some(f);
                }
                _ => ledger.other_lines += 1,
            }
        }
        if ledger.keys.is_empty() {
            ledger.start_ms = 0;
            ledger.end_ms = 0;
        }
        ledger
    }

    pub fn attempts(&self) -> impl Iterator<Item = &Attempt> {
        self.keys.values().flat_map(|k| k.attempts.iter())
    }
}

/// One fault of the schedule, as `./dev chaos` recorded it.
#[derive(Debug, Clone)]
pub struct Fault {
    pub name: String,
    pub start_ms: i64,
    /// The fault was lifted (restart issued, relay resumed).
    pub end_ms: i64,
    /// The component answered again (ready), when known.
    pub ready_ms: Option<i64>,
    pub note: Option<String>,
}

pub fn parse_faults(text: &str) -> Vec<Fault> {
    let mut faults: Vec<Fault> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
        .filter_map(|v| {
            Some(Fault {
                name: string(&v, "fault")?,
                start_ms: v["start_ms"].as_i64()?,
                end_ms: v["end_ms"].as_i64()?,
                ready_ms: v["ready_ms"].as_i64(),
                note: string(&v, "note"),
            })
        })
        .collect();
    faults.sort_by_key(|f| f.start_ms);
    faults
}

/// What the clients saw of one fault, from the attempts answered between its start and
/// the next fault's start.
#[derive(Debug, Clone)]
pub struct FaultWindow {
    pub name: String,
    pub duration_ms: i64,
    /// Attempts that failed (transport error, timeout, 5xx, 409 in flight).
    pub failed_attempts: usize,
    /// Attempts answered 202: accepted with the outcome still open (the reconciler or the
    /// saga finishes it), a definitive answer that hides a dependency's absence.
    pub accepted: usize,
    /// From the first failed attempt after the fault started to the last failed attempt
    /// before success resumed (the first definitive answer after the fault's end).
    pub window_ms: Option<i64>,
    /// From the fault's end to the first definitive answer after it.
    pub recover_ms: Option<i64>,
    /// Failed attempts after success had resumed (e.g. a key whose first request the fault
    /// cut off, answered 409 in flight until its grace period ends).
    pub stragglers: usize,
    /// The failed attempts by kind: answered 503 (a refusal the client may retry: no
    /// instance ready, the database or a dependency unavailable), another 5xx (a crash
    /// mid-request, HAProxy's 502), and no answer at all (connection refused or cut, timeout).
    pub http_503: usize,
    pub http_5xx_other: usize,
    pub transport: usize,
    /// From the fault's start to the first definitive answer to an attempt sent after it:
    /// how long after the fault a checkout works again (the drill's "time to first success";
    /// near zero for a fault the critical path does not feel).
    pub first_success_ms: Option<i64>,
    pub note: Option<String>,
}

pub fn fault_windows(ledger: &Ledger, faults: &[Fault]) -> Vec<FaultWindow> {
    let mut attempts: Vec<&Attempt> = ledger.attempts().collect();
    attempts.sort_by_key(|a| a.ts);
    faults
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let until = faults.get(i + 1).map_or(i64::MAX, |next| next.start_ms);
            let during: Vec<&&Attempt> = attempts
                .iter()
                .filter(|a| a.ts >= f.start_ms && a.ts < until)
                .collect();
            let resumed = attempts
                .iter()
                .find(|a| a.succeeded() && a.ts >= f.end_ms)
                .map(|a| a.ts);
            let failed: Vec<i64> = during.iter().filter(|a| a.failed()).map(|a| a.ts).collect();
            let failed_with =
                |pred: &dyn Fn(u64) -> bool| during.iter().filter(|a| a.failed() && pred(a.status)).count();
            let before: Vec<i64> = failed
                .iter()
                .copied()
                .filter(|ts| resumed.is_none_or(|r| *ts < r))
                .collect();
            FaultWindow {
                name: f.name.clone(),
                duration_ms: f.end_ms - f.start_ms,
                failed_attempts: failed.len(),
                accepted: during.iter().filter(|a| a.status == 202).count(),
                window_ms: before.first().zip(before.last()).map(|(a, b)| b - a),
                recover_ms: resumed.map(|r| r - f.end_ms),
                stragglers: failed.len() - before.len(),
                http_503: failed_with(&|s| s == 503),
                http_5xx_other: failed_with(&|s| s >= 500 && s != 503),
                transport: failed_with(&|s| s == 0),
                first_success_ms: attempts
                    .iter()
                    .filter(|a| a.sent_ms >= f.start_ms && a.succeeded())
                    .map(|a| a.ts)
                    .min()
                    .map(|ts| ts - f.start_ms),
                note: f.note.clone().filter(|n| !n.is_empty()),
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    Lost,
    Duplicated,
    Unexpected,
    Recovered,
}

impl Category {
    pub fn label(self) -> &'static str {
        match self {
            Category::Lost => "LOST",
            Category::Duplicated => "DUPLICATED",
            Category::Unexpected => "UNEXPECTED",
            Category::Recovered => "RECOVERED",
        }
    }

    /// Recovered is the platform doing its job; the others are violations.
    pub fn is_violation(self) -> bool {
        self != Category::Recovered
    }
}

/// One kind of anomaly, with the keys or order ids it concerns.
#[derive(Debug, Clone)]
pub struct Finding {
    pub category: Category,
    pub what: &'static str,
    pub items: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Verdict {
    pub findings: Vec<Finding>,
    /// Final outcomes the clients saw (confirmed/rejected/cancelled/unknown), per key.
    pub told: BTreeMap<String, usize>,
    /// Keys that never got a final record (k6 stopped before them).
    pub without_final: usize,
    /// Keys the clients gave up on for which no order exists: nothing happened.
    pub unanswered_without_order: usize,
    /// Orders in scope still not terminal (the invariant "every order terminal" fails too).
    pub unresolved: Vec<String>,
    pub orders_in_scope: usize,
    pub attempts: usize,
}

impl Verdict {
    pub fn count(&self, category: Category) -> usize {
        self.findings
            .iter()
            .filter(|f| f.category == category)
            .map(|f| f.items.len())
            .sum()
    }

    pub fn violations(&self) -> usize {
        [Category::Lost, Category::Duplicated, Category::Unexpected]
            .into_iter()
            .map(|c| self.count(c))
            .sum()
    }
}

async fn rows(db: &DatabaseConnection, sql: String) -> anyhow::Result<Vec<Vec<String>>> {
    let rows = db
        .query_all_raw(Statement::from_string(sea_orm::DbBackend::Postgres, sql))
        .await?;
    let width = |r: &sea_orm::QueryResult| r.column_names().len();
    rows.iter()
        .map(|r| {
            (0..width(r))
                .map(|i| Ok(r.try_get_by_index::<Option<String>>(i)?.unwrap_or_default()))
                .collect()
        })
        .collect()
}

/// A SQL list of string literals (quotes doubled); `(NULL)` when empty, which matches nothing.
fn sql_list<'a>(values: impl IntoIterator<Item = &'a String>) -> String {
    let items: Vec<String> = values
        .into_iter()
        .map(|v| format!("'{}'", v.replace('\'', "''")))
        .collect();
    if items.is_empty() {
        "(NULL)".into()
    } else {
        format!("({})", items.join(","))
    }
}

/// Only well-formed UUIDs go into `order_id IN (...)` lists: a garbled id in the ledger must
/// not turn into a SQL error (it is then simply not found).
fn uuids<'a>(values: impl IntoIterator<Item = &'a String>) -> String {
    let valid: Vec<&String> = values
        .into_iter()
        .filter(|v| uuid::Uuid::parse_str(v).is_ok())
        .collect();
    sql_list(valid)
}

fn ts(ms: i64) -> String {
    format!("to_timestamp({}::double precision / 1000)", ms)
}

struct OrderRow {
    customer: String,
    status: String,
    total: i64,
}

const TERMINAL: [&str; 3] = ["confirmed", "rejected", "cancelled"];

/// Holds the ledger against the five databases.
pub async fn analyse(platform: &crate::invariants::Platform, ledger: &Ledger) -> anyhow::Result<Verdict> {
    let mut verdict = Verdict {
        attempts: ledger.attempts().count(),
        ..Default::default()
    };
    let mut found: Vec<(Category, &'static str, Vec<String>)> = Vec::new();
    // The window opens at the first attempt, not before it: one clock (the client's and the
    // database's, on one machine), and no order of this run can exist before its first request
    // was sent. A margin before it once took in the last order of the scenario run just before
    // (CI ran the chaos smoke within a second of the retry storm) and called it unexpected.
    // After the last record the margin stays: an abandoned attempt's order may land late.
    let (from, until) = (ledger.start_ms, ledger.end_ms + 1000);
    let customers: BTreeSet<&String> = ledger.keys.values().map(|k| &k.customer).collect();

    // The orders in scope: the ledger's shoppers', and every one created during the run.
    let mut orders: HashMap<String, OrderRow> = HashMap::new();
    for r in rows(
        &platform.order,
        format!(
            "SELECT id::text, customer_id, status, COALESCE(total_amount_minor, 0)::text FROM orders
             WHERE customer_id IN {} OR created_at BETWEEN {} AND {}",
            sql_list(customers.iter().copied()),
            ts(from),
            ts(until)
        ),
    )
    .await?
    {
        let mut r = r.into_iter();
        let id = r.next().unwrap_or_default();
        orders.insert(
            id,
            OrderRow {
                customer: r.next().unwrap_or_default(),
                status: r.next().unwrap_or_default(),
                total: r.next().and_then(|t| t.parse().ok()).unwrap_or(0),
            },
        );
    }
    verdict.orders_in_scope = orders.len();
    let mut by_customer: HashMap<&str, Vec<&str>> = HashMap::new();
    for (id, o) in &orders {
        by_customer
            .entry(o.customer.as_str())
            .or_default()
            .push(id.as_str());
    }

    // What the clients were told, key by key.
    let (mut lost_confirmed, mut lost_acked, mut lost_status) = (vec![], vec![], vec![]);
    let (mut dup_orders, mut dup_named, mut told_no_but_yes) = (vec![], vec![], vec![]);
    let mut recovered = vec![];
    for (key, record) in &ledger.keys {
        let outcome = record.last.as_ref().map_or("unknown", |f| f.outcome.as_str());
        *verdict.told.entry(outcome.to_string()).or_default() += 1;
        verdict.without_final += usize::from(record.last.is_none());
        let mine = by_customer
            .get(record.customer.as_str())
            .cloned()
            .unwrap_or_default();
        if mine.len() > 1 {
            dup_orders.push(format!("{key} ({} orders: {})", mine.len(), mine.join(", ")));
        }
        let named: BTreeSet<&String> = record
            .attempts
            .iter()
            .filter_map(|a| a.order_id.as_ref())
            .chain(record.last.as_ref().and_then(|f| f.order_id.as_ref()))
            .collect();
        if named.len() > 1 {
            dup_named.push(format!("{key} (named {named:?})"));
        }
        for a in &record.attempts {
            if let (201 | 202, Some(id)) = (a.status, &a.order_id)
                && !orders.contains_key(id)
            {
                lost_acked.push(format!("{key}: HTTP {} named order {id}", a.status));
            }
        }
        // The order the client was told about; else (a duplicate) the confirmed one.
        let told_id = record.last.as_ref().and_then(|f| f.order_id.as_deref());
        let pick = mine
            .iter()
            .find(|id| Some(**id) == told_id)
            .or_else(|| mine.iter().find(|id| orders[**id].status == "confirmed"))
            .or(mine.first());
        let order = pick.and_then(|id| orders.get(*id).map(|o| (*id, o)));
        match (outcome, order) {
            ("confirmed", None) => lost_confirmed.push(key.clone()),
            ("confirmed", Some((id, o))) if o.status != "confirmed" => {
                lost_status.push(format!("{key}: order {id} is {}", o.status))
            }
            ("rejected" | "cancelled", Some((id, o))) if o.status == "confirmed" => {
                told_no_but_yes.push(format!("{key}: told {outcome}, order {id} confirmed"))
            }
            ("confirmed" | "rejected" | "cancelled", _) => {}
            (_, Some((id, o))) if TERMINAL.contains(&o.status.as_str()) => {
                recovered.push(format!("{key}: order {id} {}", o.status))
            }
            (_, Some((id, _))) => verdict.unresolved.push(id.to_string()),
            (_, None) => verdict.unanswered_without_order += 1,
        }
    }
    found.push((Category::Lost, "told confirmed, no order exists", lost_confirmed));
    found.push((
        Category::Lost,
        "got 201/202 naming an order that does not exist",
        lost_acked,
    ));
    found.push((
        Category::Lost,
        "told confirmed, the order is not confirmed",
        lost_status,
    ));
    found.push((
        Category::Duplicated,
        "more than one order for one Idempotency-Key",
        dup_orders,
    ));
    found.push((
        Category::Duplicated,
        "answers for one key named different orders",
        dup_named,
    ));
    found.push((
        Category::Unexpected,
        "told rejected/cancelled, the order is confirmed",
        told_no_but_yes,
    ));
    found.push((
        Category::Recovered,
        "client gave up, the order still ended terminal",
        recovered,
    ));

    let ours: HashSet<&str> = customers.iter().map(|c| c.as_str()).collect();
    let strangers: Vec<String> = orders
        .iter()
        .filter(|(_, o)| !ours.contains(o.customer.as_str()))
        .map(|(id, o)| format!("{id} (customer {})", o.customer))
        .collect();
    found.push((
        Category::Unexpected,
        "order created during the run for no ledger key",
        strangers,
    ));

    // The effects of every order in scope.
    let ids = uuids(orders.keys());
    let effects = |rows: Vec<Vec<String>>| -> HashMap<String, Vec<Vec<String>>> {
        let mut m: HashMap<String, Vec<Vec<String>>> = HashMap::new();
        for r in rows {
            m.entry(r[0].clone()).or_default().push(r);
        }
        m
    };
    let reservations = effects(
        rows(
            &platform.inventory,
            format!("SELECT order_id::text, status FROM reservations WHERE order_id IN {ids}"),
        )
        .await?,
    );
    let payments = effects(
        rows(
            &platform.payment,
            format!(
                "SELECT order_id::text, status, provider_calls::text FROM payments WHERE order_id IN {ids}"
            ),
        )
        .await?,
    );
    let emails = effects(
        rows(
            &platform.email,
            format!("SELECT order_id::text, kind, status FROM emails WHERE order_id IN {ids}"),
        )
        .await?,
    );
    let counts = effects(
        rows(
            &platform.analytics,
            format!("SELECT order_id::text, outcome FROM counted_orders WHERE order_id IN {ids}"),
        )
        .await?,
    );
    let accounts: HashMap<String, i64> = rows(
        &platform.payment,
        format!(
            "SELECT customer_id, captured_minor::text FROM accounts WHERE customer_id IN {}",
            sql_list(customers.iter().copied())
        ),
    )
    .await?
    .into_iter()
    .map(|r| (r[0].clone(), r[1].parse().unwrap_or(0)))
    .collect();

    let none = Vec::new();
    let (mut no_commit, mut no_capture, mut no_email, mut no_count) = (vec![], vec![], vec![], vec![]);
    let mut dup_effect = vec![];
    let mut dup_auth = vec![];
    for (id, o) in &orders {
        let r = reservations.get(id).unwrap_or(&none);
        let p = payments.get(id).unwrap_or(&none);
        let e = emails.get(id).unwrap_or(&none);
        let c = counts.get(id).unwrap_or(&none);
        if o.status == "confirmed" {
            if !r.iter().any(|x| x[1] == "committed") {
                let states: Vec<&str> = r.iter().map(|x| x[1].as_str()).collect();
                no_commit.push(format!("{id} (reservation: {states:?})"));
            }
            if !p.iter().any(|x| x[1] == "captured" || x[1] == "refunded") {
                no_capture.push(id.clone());
            }
            if !e.iter().any(|x| x[1] == "order_confirmed" && x[2] == "sent") {
                no_email.push(id.clone());
            }
            if !c.iter().any(|x| x[1] == "confirmed") {
                no_count.push(id.clone());
            }
        }
        let mut kinds: HashMap<&str, usize> = HashMap::new();
        for x in e {
            *kinds.entry(x[1].as_str()).or_default() += 1;
        }
        for (what, n) in [
            ("reservations", r.len()),
            ("payments", p.len()),
            ("analytics counts", c.len()),
        ]
        .into_iter()
        .chain(kinds.iter().map(|(k, n)| (*k, *n)))
        {
            if n > 1 {
                dup_effect.push(format!("{id}: {n} {what}"));
            }
        }
        if let Some(x) = p.iter().find(|x| x[2].parse::<i64>().unwrap_or(0) > 1) {
            dup_auth.push(format!("{id}: {} provider calls", x[2]));
        }
    }
    // Each key has its own shopper: more captured than the shopper's confirmed orders cost
    // is money taken twice.
    let mut dup_capture = vec![];
    for (customer, captured) in &accounts {
        let owed: i64 = by_customer
            .get(customer.as_str())
            .into_iter()
            .flatten()
            .filter_map(|id| orders.get(*id))
            .filter(|o| o.status == "confirmed")
            .map(|o| o.total)
            .sum();
        if *captured > owed {
            dup_capture.push(format!(
                "{customer}: captured {captured}, confirmed orders cost {owed}"
            ));
        }
    }
    found.push((
        Category::Lost,
        "confirmed order without a committed reservation",
        no_commit,
    ));
    found.push((
        Category::Lost,
        "confirmed order without a captured payment",
        no_capture,
    ));
    found.push((
        Category::Lost,
        "confirmed order without its confirmation email sent",
        no_email,
    ));
    found.push((
        Category::Lost,
        "confirmed order not counted by analytics",
        no_count,
    ));
    found.push((
        Category::Duplicated,
        "an effect recorded more than once for one order",
        dup_effect,
    ));
    found.push((
        Category::Duplicated,
        "a payment authorized more than once (provider calls)",
        dup_auth,
    ));
    found.push((
        Category::Duplicated,
        "more money captured from a shopper than their order cost",
        dup_capture,
    ));

    // Effects created during the run for orders that do not exist at all.
    let since = ts(from);
    let mut orphans: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    for (db, what, sql) in [
        (
            &platform.inventory,
            "reservation",
            format!("SELECT DISTINCT order_id::text FROM reservations WHERE created_at >= {since}"),
        ),
        (
            &platform.payment,
            "payment",
            format!("SELECT DISTINCT order_id::text FROM payments WHERE created_at >= {since}"),
        ),
        (
            &platform.email,
            "email",
            format!("SELECT DISTINCT order_id::text FROM emails WHERE created_at >= {since}"),
        ),
        (
            &platform.analytics,
            "analytics count",
            format!("SELECT DISTINCT order_id::text FROM counted_orders WHERE counted_at >= {since}"),
        ),
    ] {
        for r in rows(db, sql).await? {
            if !orders.contains_key(&r[0]) {
                orphans.entry(r[0].clone()).or_default().push(what);
            }
        }
    }
    if !orphans.is_empty() {
        // Created before the run (another scenario's order whose effect came late)? Then it
        // is not ours to judge.
        for r in rows(
            &platform.order,
            format!(
                "SELECT id::text FROM orders WHERE id IN {}",
                uuids(orphans.keys())
            ),
        )
        .await?
        {
            orphans.remove(&r[0]);
        }
    }
    found.push((
        Category::Unexpected,
        "effect created during the run for an order that does not exist",
        orphans
            .into_iter()
            .map(|(id, what)| format!("{id} ({})", what.join(", ")))
            .collect(),
    ));

    for (category, what, mut items) in found {
        items.sort();
        verdict.findings.push(Finding {
            category,
            what,
            items,
        });
    }
    verdict.findings.sort_by_key(|f| f.category);
    verdict.unresolved.sort();
    Ok(verdict)
}

/// The verdict as text: one line per category, then each finding with a few examples.
pub fn print_verdict(verdict: &Verdict, ledger: &Ledger) {
    let told: Vec<String> = verdict.told.iter().map(|(k, n)| format!("{n} {k}")).collect();
    println!(
        "Ledger: {} keys, {} POST attempts; clients were told: {}; {} without a final record",
        ledger.keys.len(),
        verdict.attempts,
        if told.is_empty() {
            "nothing".into()
        } else {
            told.join(", ")
        },
        verdict.without_final
    );
    println!(
        "Scope: {} orders (the ledger's shoppers and every order created during the run); \
         {} abandoned keys never became an order; {} orders still not terminal",
        verdict.orders_in_scope,
        verdict.unanswered_without_order,
        verdict.unresolved.len()
    );
    for category in [
        Category::Lost,
        Category::Duplicated,
        Category::Unexpected,
        Category::Recovered,
    ] {
        println!("  {:<11} {}", category.label(), verdict.count(category));
        for f in verdict
            .findings
            .iter()
            .filter(|f| f.category == category && !f.items.is_empty())
        {
            let sample: Vec<&str> = f.items.iter().take(5).map(String::as_str).collect();
            println!("      {:>5}  {}: {}", f.items.len(), f.what, sample.join("; "));
        }
    }
}

pub fn print_windows(windows: &[FaultWindow]) {
    if windows.is_empty() {
        println!("Faults: none recorded");
        return;
    }
    let secs = |ms: Option<i64>| ms.map_or("-".to_string(), |v| format!("{:.2} s", v as f64 / 1000.0));
    println!(
        "Faults (window: first failed attempt to the last before success resumed; \
         recover: fault end to the first definitive answer; 1st ok: fault start to the first \
         success of an attempt sent after it; late: failures after success resumed):"
    );
    println!(
        "  {:<24} {:>8} {:>7} {:>5} {:>5} {:>5} {:>5} {:>9} {:>9} {:>9} {:>5}  note",
        "fault", "down", "failed", "503", "5xx", "conn", "202s", "window", "recover", "1st ok", "late"
    );
    for w in windows {
        println!(
            "  {:<24} {:>8} {:>7} {:>5} {:>5} {:>5} {:>5} {:>9} {:>9} {:>9} {:>5}  {}",
            w.name,
            secs(Some(w.duration_ms)),
            w.failed_attempts,
            w.http_503,
            w.http_5xx_other,
            w.transport,
            w.accepted,
            secs(w.window_ms),
            secs(w.recover_ms),
            secs(w.first_success_ms),
            w.stragglers,
            w.note.as_deref().unwrap_or("")
        );
    }
}

/// The verdict and the fault windows as JSON, for docs/reliability.md and scripts.
pub fn to_json(verdict: &Verdict, windows: &[FaultWindow], invariant_failures: usize) -> Value {
    json!({
        "lost": verdict.count(Category::Lost),
        "duplicated": verdict.count(Category::Duplicated),
        "unexpected": verdict.count(Category::Unexpected),
        "recovered": verdict.count(Category::Recovered),
        "invariant_failures": invariant_failures,
        "told": verdict.told,
        "attempts": verdict.attempts,
        "orders_in_scope": verdict.orders_in_scope,
        "unresolved": verdict.unresolved.len(),
        "findings": verdict.findings.iter().filter(|f| !f.items.is_empty()).map(|f| json!({
            "category": f.category.label(), "what": f.what, "count": f.items.len(),
            "sample": f.items.iter().take(20).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "faults": windows.iter().map(|w| json!({
            "fault": w.name, "duration_ms": w.duration_ms, "failed_attempts": w.failed_attempts,
            "accepted": w.accepted, "window_ms": w.window_ms, "recover_ms": w.recover_ms,
            "stragglers": w.stragglers, "http_503": w.http_503, "http_5xx_other": w.http_5xx_other,
            "transport": w.transport, "first_success_ms": w.first_success_ms, "note": w.note,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(ts: i64, status: u64) -> String {
        json!({"ledger": "attempt", "key": format!("k{ts}"), "customer": format!("c{ts}"), "n": 1,
               "sent_ms": ts - 10, "ts": ts, "status": status, "order_id": (status == 201).then_some("o")})
        .to_string()
    }

    #[test]
    fn a_fault_window_runs_from_the_first_failure_to_the_last_before_success_resumed() {
        let text = [
            attempt(1_000, 201),
            attempt(2_000, 0),
            attempt(3_000, 503),
            attempt(4_000, 201), // during the fault: does not end it
            attempt(6_000, 500),
            attempt(9_000, 201),  // the first answer after the fault's end (5 s)
            attempt(10_000, 409), // a straggler
            attempt(12_000, 0),
            "WARN[0003] Request Failed".to_string(),
        ]
        .join("\n");
        let ledger = Ledger::parse(&text);
        assert_eq!(ledger.other_lines, 1);
        let faults = parse_faults(
            "{\"fault\":\"a\",\"start_ms\":1500,\"end_ms\":5000}\n{\"fault\":\"b\",\"start_ms\":11000,\"end_ms\":11500,\"ready_ms\":11600}",
        );
        let w = fault_windows(&ledger, &faults);
        assert_eq!(w[0].failed_attempts, 4);
        assert_eq!(w[0].window_ms, Some(4_000));
        assert_eq!(w[0].recover_ms, Some(4_000));
        assert_eq!(w[0].stragglers, 1);
        // 0 (transport), 503, 500 and the straggler's 409 (neither a 5xx nor transport).
        assert_eq!((w[0].transport, w[0].http_503, w[0].http_5xx_other), (1, 1, 1));
        // Sent at 3,990 (after the start at 1,500), answered 201 at 4,000.
        assert_eq!(w[0].first_success_ms, Some(2_500));
        assert_eq!(w[1].failed_attempts, 1);
        assert_eq!(w[1].window_ms, Some(0));
        assert_eq!(w[1].recover_ms, None);
    }
}
