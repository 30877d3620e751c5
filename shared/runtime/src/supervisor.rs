//! Supervision that really restarts.
//!
//! A service is mostly loops that nobody watches: the outbox relay, the consumers, the
//! reconciler, the compensation worker, the sweepers, the monitors, the LISTEN loop, the
//! broker keeper. If one of them panics, the task it ran in simply ends: the HTTP side keeps
//! answering 200, `/health/ready` stays green, and events stop leaving the outbox, or orders
//! stop reaching a terminal state, silently. (An actix `Supervisor` restarts an actor that
//! *stops*; a panic does not stop it, it kills the task the actor runs in.)
//!
//! So every loop runs inside [`guard`]: a panic becomes a value, is logged with the loop's
//! name, counted in `actor_restarts_total{actor}` (alert on its rate), and the loop starts
//! again after a backoff that grows while it keeps failing. The work itself lives in
//! PostgreSQL and RabbitMQ, so a restarted loop picks up exactly where the dead one was.

use std::{
    future::Future,
    panic::AssertUnwindSafe,
    time::{Duration, Instant},
};

use futures_util::FutureExt;

use crate::crash;

/// The loop panicked; the message is the panic's.
#[derive(Debug)]
pub struct Panicked(pub String);

impl std::fmt::Display for Panicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "panicked: {}", self.0)
    }
}

/// Runs one life (or one pass) of the loop `actor`, turning a panic inside it into
/// `Err(Panicked)`, which is logged and counted as a restart. The loop's crash point
/// (`loop.<actor>`) is checked first, so a test can make exactly this loop panic.
pub async fn guard<T>(actor: &str, work: impl Future<Output = T>) -> Result<T, Panicked> {
    let work = async {
        if crash::enabled() {
            crash::point(&format!("{}{actor}", crash::LOOP_PREFIX));
        }
        work.await
    };
    AssertUnwindSafe(work).catch_unwind().await.map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic".to_string());
        tracing::error!(actor, panic = %message, "long-running loop panicked; restarting it");
        restarted(actor);
        Panicked(message)
    })
}

/// Counts one restart of `actor` (for loops that restart themselves after an error).
pub fn restarted(actor: &str) {
    metrics::counter!("actor_restarts_total", "actor" => actor.to_string()).increment(1);
}

/// How long to wait before restart number `consecutive` (0 = the first): from 200 ms,
/// doubling, at most 30 s, with jitter, so a loop that dies at once does not spin.
pub fn restart_delay(consecutive: u32) -> Duration {
    crate::retry_policy::delay_for(
        consecutive,
        Duration::from_millis(200),
        Duration::from_secs(30),
        None,
    )
}

/// A loop that ran this long without failing counts as healthy: its next failure starts
/// the backoff from the beginning again.
const HEALTHY_AFTER: Duration = Duration::from_secs(60);

/// Spawns `make()` as a supervised task: whenever the future it returns panics or ends with
/// an error, that is logged and counted, and after a backoff `make()` is called again. It
/// ends only when a future returns `Ok(())` (the loop was told to stop).
pub fn supervise<F, Fut>(actor: &'static str, mut make: F) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    tokio::spawn(async move {
        let mut consecutive = 0;
        loop {
            let started = Instant::now();
            match guard(actor, make()).await {
                Ok(Ok(())) => return,
                Ok(Err(e)) => {
                    tracing::warn!(actor, error = %e, "long-running loop failed; restarting it");
                    restarted(actor);
                }
                Err(Panicked(_)) => {} // logged and counted by guard
            }
            if started.elapsed() >= HEALTHY_AFTER {
                consecutive = 0;
            }
            tokio::time::sleep(restart_delay(consecutive)).await;
            consecutive += 1;
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    };

    use super::*;

    #[tokio::test]
    async fn a_panicking_loop_is_restarted_until_it_stops() {
        let lives = Arc::new(AtomicU32::new(0));
        let counter = lives.clone();
        let task = supervise("test-panicking-loop", move || {
            let life = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                match life {
                    0 => panic!("first life dies"),
                    1 => anyhow::bail!("second life fails"),
                    _ => Ok(()),
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the loop came back and finished")
            .expect("the supervising task itself never panics");
        assert_eq!(lives.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn guard_fires_the_loops_crash_point() {
        crash::arm("loop.test-guarded", crash::Action::Panic, Some(1));
        assert!(guard("test-guarded", async { 1 }).await.is_err());
        assert_eq!(guard("test-guarded", async { 1 }).await.unwrap(), 1);
    }

    #[test]
    fn restart_delays_grow_and_are_capped() {
        assert!(restart_delay(0) < Duration::from_millis(500));
        assert!(restart_delay(30) <= Duration::from_secs(30));
        assert!(restart_delay(5) > restart_delay(0));
    }
}
