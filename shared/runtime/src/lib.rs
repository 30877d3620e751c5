//! The parts of a service's life that are about surviving its own failures.
//!
//! - `supervisor.rs`: every long-running loop (outbox relay, consumers, reconciler,
//!   compensation worker, sweepers, monitors, the LISTEN loop, the broker keeper) runs
//!   under a guard that catches a panic or an error, logs and counts it
//!   (`actor_restarts_total{actor}`), and starts the loop again after a backoff.
//! - `crash.rs`: named crash points. Off unless configured; the chaos tests use them to kill
//!   a process at the exact step whose crash a guarantee must survive.

pub mod crash;
pub mod retry_policy;
pub mod supervisor;
