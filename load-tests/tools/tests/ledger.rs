//! The ledger checker judges chaos runs: if it cannot say "lost", a run that told a shopper
//! "confirmed" and then forgot the order would still pass. These tests write a client
//! ledger and the platform's state by hand, in databases and a vhost of their own, and run
//! the real `check-ledger` binary on them: a consistent run must pass (with its one
//! recovered checkout reported as such), and a run with an order lost, one key turned into
//! two orders, an order nobody asked for and a confirmed order missing its effects must be
//! reported in each category and fail.

mod common;

use std::path::PathBuf;

use common::{Platform, exec};
use serde_json::{Value, json};

const CONFIRMED: &str = "00000000-0000-0000-0000-0000000c0001";
const RECOVERED: &str = "00000000-0000-0000-0000-0000000c0002";
const REJECTED: &str = "00000000-0000-0000-0000-0000000f0001";
/// Named by a 201 the client received, but no such order exists.
const VANISHED: &str = "00000000-0000-0000-0000-0000000d0001";
const TWIN_A: &str = "00000000-0000-0000-0000-0000000e0001";
const TWIN_B: &str = "00000000-0000-0000-0000-0000000e0002";
const STRANGER: &str = "00000000-0000-0000-0000-0000000e0003";
/// Created just before the run's first request, by the scenario before it.
const BEFORE: &str = "00000000-0000-0000-0000-0000000e0005";
/// Confirmed, but none of its effects happened.
const HOLLOW: &str = "00000000-0000-0000-0000-0000000e0004";

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

struct Run {
    dir: PathBuf,
    lines: Vec<Value>,
    t0: i64,
}

impl Run {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("check-ledger-{name}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self {
            dir,
            lines: Vec::new(),
            t0: now_ms() - 10_000,
        }
    }

    /// One client: its attempts (status, order id named) 100 ms apart, then its final record.
    fn client(&mut self, key: &str, attempts: &[(u64, Option<&str>)], outcome: &str, order: Option<&str>) {
        let customer = format!("ch-test-{key}");
        for (i, (status, order_id)) in attempts.iter().enumerate() {
            let ts = self.t0 + 100 * i as i64;
            self.lines.push(json!({
                "ledger": "attempt", "key": key, "customer": customer, "n": i + 1, "sent_ms": ts - 50, "ts": ts,
                "status": status, "error": (*status == 0).then_some("request timeout"),
                "code": (*status == 503).then_some("dependency_unavailable"), "order_id": order_id,
            }));
        }
        self.lines.push(json!({
            "ledger": "final", "key": key, "customer": customer, "outcome": outcome, "order_id": order,
            // The run lasts until well after the state below is written.
            "started_ms": self.t0, "ts": now_ms() + 60_000, "attempts": attempts.len(), "polls": 0,
        }));
    }

    fn check(&self, platform: &Platform) -> (i32, String, Value) {
        let ledger = self.dir.join("ledger.jsonl");
        let mut text: Vec<String> = self.lines.iter().map(Value::to_string).collect();
        text.push("WARN[0012] Request Failed  error=\"request timeout\"".into()); // k6's own lines
        std::fs::write(&ledger, text.join("\n")).expect("write ledger");
        let faults = self.dir.join("faults.jsonl");
        let fault = json!({ "fault": "order-kill", "start_ms": self.t0 - 10, "end_ms": self.t0 + 50, "ready_ms": self.t0 + 60 });
        std::fs::write(&faults, fault.to_string()).expect("write faults");
        let out = self.dir.join("verdict.json");
        let (code, report) = platform.run(
            env!("CARGO_BIN_EXE_check-ledger"),
            &[
                "--ledger",
                ledger.to_str().unwrap(),
                "--faults",
                faults.to_str().unwrap(),
                "--settle-secs",
                "0",
                "--json",
                out.to_str().unwrap(),
            ],
        );
        let verdict = serde_json::from_str(&std::fs::read_to_string(&out).expect("verdict.json written"))
            .expect("verdict.json is JSON");
        (code, report, verdict)
    }
}

/// A confirmed checkout as it must end: the order, a committed reservation, a captured
/// payment from the shopper's account, the confirmation email sent, the analytics count.
async fn confirmed_order(platform: &Platform, id: &str, customer: &str) {
    exec(
        &platform.order,
        &format!(
            "INSERT INTO orders (id, customer_id, status, total_amount_minor, payment_method, correlation_id, deadline_at)
             VALUES ('{id}', '{customer}', 'confirmed', 1800, '4242424242424242', 'c-{id}', now());"
        ),
    )
    .await;
    exec(
        &platform.inventory,
        &format!(
            "INSERT INTO reservations (order_id, status, correlation_id, expires_at) VALUES ('{id}', 'committed', 'c', now());
             INSERT INTO reservation_lines (order_id, sku, quantity, unit_price_minor) VALUES ('{id}', 'mug', 1, 1800);
             UPDATE products SET available = available - 1, sold = sold + 1 WHERE sku = 'mug';"
        ),
    )
    .await;
    exec(
        &platform.payment,
        &format!(
            "INSERT INTO accounts (customer_id, balance_minor, captured_minor) VALUES ('{customer}', 98200, 1800);
             INSERT INTO payments (order_id, customer_id, amount_minor, currency, card_last4, status, correlation_id, provider_calls)
             VALUES ('{id}', '{customer}', 1800, 'EUR', '4242', 'captured', 'c', 1);"
        ),
    )
    .await;
    exec(
        &platform.email,
        &format!(
            "INSERT INTO emails (id, order_id, kind, recipient, subject, body_text, body_html, status, correlation_id)
             VALUES (gen_random_uuid(), '{id}', 'order_confirmed', 'x@example.test', 's', 't', 'h', 'sent', 'c');"
        ),
    )
    .await;
    exec(
        &platform.analytics,
        &format!(
            "INSERT INTO counted_orders (order_id, outcome, total_minor, correlation_id, occurred_at)
             VALUES ('{id}', 'confirmed', 1800, 'c', now());"
        ),
    )
    .await;
}

/// An order rejected by the card: declined payment, nothing held.
async fn rejected_order(platform: &Platform, id: &str, customer: &str) {
    exec(
        &platform.order,
        &format!(
            "INSERT INTO orders (id, customer_id, status, reason_code, total_amount_minor, payment_method, correlation_id, deadline_at)
             VALUES ('{id}', '{customer}', 'rejected', 'payment_declined', 1800, '4000000000000002', 'c-{id}', now());"
        ),
    )
    .await;
}

/// Three clients: one confirmed after a 503 and a retry, one that gave up after a timeout
/// although its order went on to be confirmed, one declined.
async fn consistent_run(platform: &Platform, run: &mut Run) {
    run.client(
        "k1",
        &[(503, None), (201, Some(CONFIRMED))],
        "confirmed",
        Some(CONFIRMED),
    );
    run.client("k2", &[(0, None), (0, None)], "unknown", None);
    run.client("k3", &[(402, Some(REJECTED))], "rejected", Some(REJECTED));
    confirmed_order(platform, CONFIRMED, "ch-test-k1").await;
    confirmed_order(platform, RECOVERED, "ch-test-k2").await;
    rejected_order(platform, REJECTED, "ch-test-k3").await;
}

#[tokio::test]
async fn a_consistent_run_passes_and_reports_the_checkout_the_platform_finished_alone() {
    let platform = Platform::create("ledger_ok").await;
    let mut run = Run::new("ok");
    consistent_run(&platform, &mut run).await;
    // The last order of the scenario run just before this one, created 250 ms before this
    // run's first request was sent: not this run's, so not unexpected.
    exec(
        &platform.order,
        &format!(
            "INSERT INTO orders (id, customer_id, status, reason_code, total_amount_minor, payment_method, correlation_id, deadline_at, created_at)
             VALUES ('{BEFORE}', 'rs-previous', 'rejected', 'payment_declined', 1800, '4000000000000002', 'c', now(),
                     to_timestamp({} / 1000.0));",
            run.t0 - 50 - 250
        ),
    )
    .await;

    let (code, report, verdict) = run.check(&platform);

    assert_eq!(code, 0, "a consistent run must pass:\n{report}");
    assert_eq!(verdict["lost"], 0, "{report}");
    assert_eq!(verdict["duplicated"], 0, "{report}");
    assert_eq!(verdict["unexpected"], 0, "{report}");
    assert_eq!(verdict["recovered"], 1, "{report}");
    assert!(
        report.contains("client gave up, the order still ended terminal"),
        "{report}"
    );
    assert!(
        report.contains("10 passed, 0 failed"),
        "the invariants ran and held:\n{report}"
    );
    // The fault (t0 - 10 ms to t0 + 50 ms): the 503 and a timeout at t0 failed, the 201 at
    // t0 + 100 ms is the first answer after its end; the timeout at t0 + 100 ms is late.
    let fault = &verdict["faults"][0];
    assert_eq!(fault["fault"], "order-kill");
    assert_eq!(fault["failed_attempts"], 3, "{report}");
    assert_eq!(fault["window_ms"], 0, "{report}");
    assert_eq!(fault["recover_ms"], 50, "{report}");
    assert_eq!(fault["stragglers"], 1, "{report}");
}

#[tokio::test]
async fn lost_duplicated_and_unexpected_orders_are_each_reported_and_fail_the_run() {
    let platform = Platform::create("ledger_bad").await;
    let mut run = Run::new("bad");
    consistent_run(&platform, &mut run).await;
    assert_eq!(run.check(&platform).0, 0, "the starting point is consistent");

    // Lost: the client was told "confirmed" by a 201 naming an order that does not exist.
    run.client("k4", &[(201, Some(VANISHED))], "confirmed", Some(VANISHED));
    // Duplicated: one key, two orders.
    run.client("k5", &[(0, None), (201, Some(TWIN_A))], "confirmed", Some(TWIN_A));
    confirmed_order(&platform, TWIN_A, "ch-test-k5").await;
    rejected_order(&platform, TWIN_B, "ch-test-k5").await;
    // Unexpected: an order created during the run that no client asked for.
    rejected_order(&platform, STRANGER, "someone-else").await;
    // Lost effects: confirmed, and nothing else happened.
    run.client("k7", &[(201, Some(HOLLOW))], "confirmed", Some(HOLLOW));
    exec(
        &platform.order,
        &format!(
            "INSERT INTO orders (id, customer_id, status, total_amount_minor, payment_method, correlation_id, deadline_at)
             VALUES ('{HOLLOW}', 'ch-test-k7', 'confirmed', 1800, '4242424242424242', 'c', now());"
        ),
    )
    .await;

    let (code, report, verdict) = run.check(&platform);

    assert_eq!(code, 1, "anomalies must fail the run:\n{report}");
    for line in [
        "told confirmed, no order exists",
        "got 201/202 naming an order that does not exist",
        "more than one order for one Idempotency-Key",
        "order created during the run for no ledger key",
        "confirmed order without a committed reservation",
        "confirmed order without a captured payment",
        "confirmed order without its confirmation email sent",
        "confirmed order not counted by analytics",
        "client gave up, the order still ended terminal",
    ] {
        assert!(report.contains(line), "not reported: {line}\n{report}");
    }
    // k4: told confirmed + a 201 naming a missing order; k7: four missing effects.
    assert_eq!(verdict["lost"], 6, "{report}");
    assert_eq!(verdict["duplicated"], 1, "{report}");
    assert_eq!(verdict["unexpected"], 1, "{report}");
    assert_eq!(verdict["recovered"], 1, "{report}");
    assert!(
        report.contains(STRANGER),
        "the unexpected order is named:\n{report}"
    );
}
