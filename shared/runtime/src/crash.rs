//! Named crash points: kill the process at the exact step whose crash a guarantee must
//! survive.
//!
//! A guarantee like "an authorized payment is never lost and never taken twice" is only as
//! good as the worst moment to die. Killing a process at random under load finds that
//! moment by luck; a crash point finds it every time. The code marks its dangerous gaps
//! (`crash::point("order.after_authorize")`): between a side effect and the record of it,
//! between a commit and the answer, between a publish and the mark. A test arms one point,
//! watches the process abort there, starts it again and checks that the outcome happened
//! exactly once.
//!
//! Off unless configured: `CRASH_POINTS` is empty in every default run, and then a point
//! costs one relaxed atomic load. Set it to a comma-separated list of `name[:panic][*N]`:
//! the process aborts at the point (as `kill -9` would: no destructor, no flush, no
//! graceful shutdown), or, with `:panic`, panics there (what the supervisor tests use),
//! for the first `N` times it is reached (default: every time). An unknown name is a
//! start-up error, so a typo cannot make a test pass by never crashing.

use std::{
    collections::BTreeMap,
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

/// Every crash point in the code, with what surviving it proves (docs/reliability.md).
pub const POINTS: &[(&str, &str)] = &[
    (
        "payment.after_provider_approved",
        "the provider approved but payment did not record it: the payment stays pending, \
         the order service gives up at the deadline and voids it; the provider is never \
         called twice and no money moves",
    ),
    (
        "order.after_authorize",
        "payment authorized, the order not yet confirmed: the reconciler asks payment again \
         with the same order id, gets the same authorization, confirms once, one capture",
    ),
    (
        "order.after_confirm_commit",
        "the order and its event committed, the shopper got no answer: the retry with the \
         same Idempotency-Key returns the same confirmed order",
    ),
    (
        "relay.after_publish",
        "events published and confirmed, not yet marked: published again after the restart, \
         and the consumers' dedupe makes each effect happen once",
    ),
    (
        "consumer.after_commit",
        "a consumer committed its effect, the message was not acknowledged: redelivered, \
         recognised as processed, acknowledged, not applied again",
    ),
    (
        "email.after_send",
        "the email was handed to the mail server, not yet marked sent: sent again with the \
         same Message-ID, which the mailbox keeps once",
    ),
];

/// Points inside a supervised loop are named `loop.<actor>` (see `supervisor.rs`).
pub const LOOP_PREFIX: &str = "loop.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `std::process::abort()`: the process dies on the spot, as with `kill -9`.
    Abort,
    /// A panic, which the supervisor of the loop it happens in must catch.
    Panic,
}

#[derive(Debug, Clone, Copy)]
struct Armed {
    action: Action,
    /// Fire this many more times; `None` is every time.
    remaining: Option<u32>,
}

static ANY_ARMED: AtomicBool = AtomicBool::new(false);
static ARMED: Mutex<BTreeMap<String, Armed>> = Mutex::new(BTreeMap::new());

/// Arms the points listed in `CRASH_POINTS` (nothing when unset or empty).
pub fn init_from_env() -> Result<(), String> {
    let spec = std::env::var("CRASH_POINTS").unwrap_or_default();
    for (name, action, times) in parse(&spec)? {
        arm(&name, action, times);
    }
    Ok(())
}

/// Parses `name[:panic][*N],...`.
pub fn parse(spec: &str) -> Result<Vec<(String, Action, Option<u32>)>, String> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let (rest, times) = match item.split_once('*') {
                Some((rest, n)) => {
                    let n = n
                        .parse::<u32>()
                        .map_err(|_| format!("CRASH_POINTS: {item:?}: the count after * must be a number"))?;
                    (rest, Some(n))
                }
                None => (item, None),
            };
            let (name, action) = match rest.split_once(':') {
                Some((name, "panic")) => (name, Action::Panic),
                Some((name, "abort")) => (name, Action::Abort),
                Some((_, other)) => {
                    return Err(format!(
                        "CRASH_POINTS: {item:?}: unknown action {other:?} (abort or panic)"
                    ));
                }
                None => (rest, Action::Abort),
            };
            if !is_known(name) {
                let known: Vec<_> = POINTS.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "CRASH_POINTS: no crash point named {name:?} (known: {}, or {LOOP_PREFIX}<actor>)",
                    known.join(", ")
                ));
            }
            Ok((name.to_string(), action, times))
        })
        .collect()
}

fn is_known(name: &str) -> bool {
    POINTS.iter().any(|(n, _)| *n == name)
        || name
            .strip_prefix(LOOP_PREFIX)
            .is_some_and(|actor| !actor.is_empty())
}

/// Arms one point (tests call this directly; services read `CRASH_POINTS`).
pub fn arm(name: &str, action: Action, times: Option<u32>) {
    let mut armed = ARMED.lock().unwrap_or_else(|e| e.into_inner());
    armed.insert(
        name.to_string(),
        Armed {
            action,
            remaining: times,
        },
    );
    ANY_ARMED.store(true, Ordering::SeqCst);
    tracing::warn!(point = name, ?action, ?times, "crash point armed");
}

/// Whether any point is armed: callers that must build a point's name first check this.
pub fn enabled() -> bool {
    ANY_ARMED.load(Ordering::Relaxed)
}

/// Marks a crash point: aborts or panics here if it is armed, otherwise does nothing.
pub fn point(name: &str) {
    if !enabled() {
        return;
    }
    let action = {
        let mut armed = ARMED.lock().unwrap_or_else(|e| e.into_inner());
        let Some(point) = armed.get_mut(name) else {
            return;
        };
        let action = point.action;
        match &mut point.remaining {
            Some(0) => return,
            Some(n) => *n -= 1,
            None => {}
        }
        action
    };
    match action {
        Action::Abort => {
            // stderr is unbuffered: the line is in the log even though nothing else is flushed.
            eprintln!(
                "{{\"level\":\"ERROR\",\"message\":\"crash point reached: aborting\",\"point\":\"{name}\"}}"
            );
            std::process::abort();
        }
        Action::Panic => panic!("crash point {name} reached (armed to panic)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_actions_and_counts() {
        let parsed =
            parse("order.after_authorize, loop.outbox-relay:panic*1,relay.after_publish:abort").unwrap();
        assert_eq!(
            parsed,
            vec![
                ("order.after_authorize".to_string(), Action::Abort, None),
                ("loop.outbox-relay".to_string(), Action::Panic, Some(1)),
                ("relay.after_publish".to_string(), Action::Abort, None),
            ]
        );
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn rejects_unknown_points_and_actions() {
        assert!(
            parse("order.after_authorise")
                .unwrap_err()
                .contains("no crash point named")
        );
        assert!(parse("loop.").is_err());
        assert!(
            parse("order.after_authorize:explode")
                .unwrap_err()
                .contains("unknown action")
        );
        assert!(parse("order.after_authorize*x").is_err());
    }

    #[test]
    fn a_counted_panic_point_fires_that_many_times() {
        arm("loop.test-counted", Action::Panic, Some(2));
        for _ in 0..2 {
            assert!(std::panic::catch_unwind(|| point("loop.test-counted")).is_err());
        }
        point("loop.test-counted"); // spent: returns
        point("loop.never-armed");
    }
}
