//! The invariant checker is the judge of every load run: if it cannot fail, a run that
//! oversold or charged twice would still print "0 failed". These tests build the platform's
//! state by hand, in databases and a vhost of their own, and run the real checker binary on
//! it: once on a consistent platform (it must pass, and list the dead letter), once with one
//! violation of each invariant (each must be reported).

mod common;

use common::{Platform, exec};
use serde_json::json;

const CONFIRMED: &str = "00000000-0000-0000-0000-00000000c001";
const REJECTED: &str = "00000000-0000-0000-0000-00000000f001";
/// Added by the broken-platform test: rejected, but its reservation still holds stock.
const REJECTED_STILL_HELD: &str = "00000000-0000-0000-0000-00000000f002";
/// A customer cancelled it, and its stock was never given back.
const CANCELLED_STILL_SOLD: &str = "0192f5d4-6c3e-7a10-9a55-0000000000cc";

/// The invariant tests' own steps on the shared test platform.
trait Checkouts {
    async fn settle_two_checkouts(&self);
    fn check(&self) -> (i32, String);
}

impl Checkouts for Platform {
    /// What a finished checkout leaves behind when everything went right (one confirmed
    /// order, fanned out to every service) and when it was rejected (stock released).
    async fn settle_two_checkouts(&self) {
        exec(
            &self.order,
            &format!(
                "INSERT INTO orders (id, customer_id, status, total_amount_minor, payment_method, correlation_id, deadline_at)
                 VALUES ('{CONFIRMED}', 'alice', 'confirmed', 1800, '4242424242424242', 'corr-ok', now()),
                        ('{REJECTED}', 'bob', 'rejected', 1800, '4000000000000002', 'corr-no', now());
                 INSERT INTO outbox (event_id, event_type, aggregate_id, correlation_id, envelope, published_at)
                 VALUES (gen_random_uuid(), 'order.confirmed', '{CONFIRMED}', 'corr-ok', '{{}}', now());"
            ),
        )
        .await;
        exec(
            &self.inventory,
            &format!(
                "INSERT INTO reservations (order_id, status, correlation_id, expires_at)
                 VALUES ('{CONFIRMED}', 'committed', 'corr-ok', now()), ('{REJECTED}', 'released', 'corr-no', now());
                 INSERT INTO reservation_lines (order_id, sku, quantity, unit_price_minor)
                 VALUES ('{CONFIRMED}', 'mug', 1, 1800), ('{REJECTED}', 'mug', 1, 1800);
                 UPDATE products SET available = available - 1, sold = sold + 1 WHERE sku = 'mug';"
            ),
        )
        .await;
        exec(
            &self.payment,
            &format!(
                "INSERT INTO payments (order_id, customer_id, amount_minor, currency, card_last4, status, correlation_id, provider_calls)
                 VALUES ('{CONFIRMED}', 'alice', 1800, 'EUR', '4242', 'captured', 'corr-ok', 1),
                        ('{REJECTED}', 'bob', 1800, 'EUR', '0002', 'declined', 'corr-no', 1);
                 UPDATE accounts SET captured_minor = 1800, balance_minor = balance_minor - 1800 WHERE customer_id = 'alice';"
            ),
        )
        .await;
        exec(
            &self.email,
            &format!(
                "INSERT INTO emails (id, order_id, kind, recipient, subject, body_text, body_html, status, correlation_id)
                 VALUES (gen_random_uuid(), '{CONFIRMED}', 'order_confirmed', 'alice@example.test', 's', 't', 'h', 'sent', 'corr-ok');"
            ),
        )
        .await;
        exec(
            &self.analytics,
            &format!(
                "INSERT INTO counted_orders (order_id, outcome, total_minor, correlation_id, occurred_at)
                 VALUES ('{CONFIRMED}', 'confirmed', 1800, 'corr-ok', now()), ('{REJECTED}', 'rejected', 0, 'corr-no', now());"
            ),
        )
        .await;
    }

    /// Runs the real checker binary against this platform, without settle time: the state
    /// is already what it will be.
    fn check(&self) -> (i32, String) {
        self.run(env!("CARGO_BIN_EXE_check-invariants"), &["--settle-secs", "0"])
    }
}

fn invariant_lines(report: &str) -> Vec<&str> {
    report
        .lines()
        .filter(|l| l.trim_start().starts_with("[PASS]") || l.trim_start().starts_with("[FAIL]"))
        .collect()
}

#[tokio::test]
async fn a_consistent_platform_passes_and_its_dead_letters_are_listed_with_their_reasons() {
    let platform = Platform::create("inv").await;
    platform.settle_two_checkouts().await;
    // A dead letter is not a violation (it was parked on purpose, with an alert), but the
    // report must say it is there and why.
    platform
        .vhost
        .put_message(
            "email.order-events.dlq",
            json!({ "x-death-reason": "schema_version 99 is not supported" }),
        )
        .await;

    let (code, report) = platform.check();

    assert_eq!(code, 0, "a consistent platform must pass:\n{report}");
    assert_eq!(invariant_lines(&report).len(), 10, "{report}");
    assert!(report.contains("10 passed, 0 failed"), "{report}");
    assert!(report.contains("1 confirmed; missing: 0"), "{report}");
    assert!(report.contains("email.order-events.dlq x1"), "{report}");
    assert!(
        report.contains("schema_version 99 is not supported"),
        "the dead letter's reason is listed:\n{report}"
    );
}

#[tokio::test]
async fn each_broken_invariant_is_reported_and_fails_the_run() {
    let platform = Platform::create("inv").await;
    platform.settle_two_checkouts().await;
    assert_eq!(platform.check().0, 0, "the starting point is consistent");

    // One violation per invariant. Some of them are forbidden by constraints (which is the
    // point of those constraints); a test drops the constraint to play a buggy release.
    // Each violation touches rows no other one does, so each line fails for its own reason.
    exec(
        &platform.inventory,
        &format!(
            "ALTER TABLE products DROP CONSTRAINT products_check;
             UPDATE products SET sold = sold + 1 WHERE sku = 'hot-sneaker';      -- oversold
             UPDATE products SET available = available - 1, reserved = reserved + 1
              WHERE sku = 'mug';                                                  -- held for nobody
             INSERT INTO reservations (order_id, status, correlation_id, expires_at)
             VALUES ('{REJECTED_STILL_HELD}', 'reserved', 'x', now()),           -- rejected, still held
                    ('{CANCELLED_STILL_SOLD}', 'committed', 'x', now());         -- cancelled, not returned"
        ),
    )
    .await;
    exec(
        &platform.payment,
        "INSERT INTO payments (order_id, customer_id, amount_minor, currency, card_last4, status, correlation_id, provider_calls)
         VALUES (gen_random_uuid(), 'dave', 500, 'EUR', '4242', 'authorized', 'x', 2); -- charged twice, no hold",
    )
    .await;
    exec(
        &platform.order,
        &format!(
            "INSERT INTO orders (id, customer_id, status, payment_method, correlation_id, deadline_at)
             VALUES (gen_random_uuid(), 'carol', 'pending', '4242424242424242', 'x', now()),   -- never finished
                    (gen_random_uuid(), 'carol', 'confirmed', '4242424242424242', 'x', now()), -- never fanned out
                    ('{REJECTED_STILL_HELD}', 'bob', 'rejected', '4000000000000002', 'x', now());
             INSERT INTO orders (id, customer_id, status, reason_code, payment_method, correlation_id, deadline_at)
             VALUES ('{CANCELLED_STILL_SOLD}', 'erin', 'cancelled', 'cancelled_by_customer', '4242424242424242', 'x', now());
             INSERT INTO outbox (event_id, event_type, aggregate_id, correlation_id, envelope)
             VALUES (gen_random_uuid(), 'order.confirmed', 'x', 'x', '{{}}');                  -- never published"
        ),
    )
    .await;
    exec(
        &platform.email,
        &format!(
            "ALTER TABLE emails DROP CONSTRAINT emails_order_id_kind_key;
             INSERT INTO emails (id, order_id, kind, recipient, subject, body_text, body_html, status, correlation_id)
             SELECT gen_random_uuid(), '{REJECTED}', 'order_rejected', 'bob@example.test', 's', 't', 'h', 'sent', 'x'
             FROM generate_series(1, 2);                                           -- sent twice"
        ),
    )
    .await;
    platform
        .vhost
        .put_message("analytics.order-events", json!({}))
        .await; // never consumed

    let (code, report) = platform.check();

    assert_eq!(code, 1, "violations must fail the run:\n{report}");
    let lines = invariant_lines(&report);
    assert_eq!(lines.len(), 10, "{report}");
    for line in lines {
        assert!(line.trim_start().starts_with("[FAIL]"), "not reported: {line}");
    }
    assert!(report.contains("0 passed, 10 failed"), "{report}");
    assert!(report.contains("analytics.order-events=1"), "{report}");
    assert!(report.contains("1 not terminal"), "{report}");
    assert!(report.contains("1 still hold stock"), "{report}");
}
