//! `check-invariants`: reads each service's database and the broker, and states whether
//! the platform's promises held (the invariants are listed in `load_tools::invariants`).
//!
//! Effects are eventually consistent, so it re-evaluates until every invariant holds or the
//! settle time (`--settle-secs`, default 60) runs out, prints each invariant with its counts,
//! and exits 1 if any is violated.
//!
//! Database URLs default to the `./dev` stack (`ORDER_DATABASE_URL`, `INVENTORY_DATABASE_URL`,
//! `PAYMENT_DATABASE_URL`, `EMAIL_DATABASE_URL`, `ANALYTICS_DATABASE_URL`); the broker from
//! `RABBITMQ_MANAGEMENT_URL` and `AMQP_URL`. It only reads.

use std::time::{Duration, Instant};

use load_tools::invariants::{Platform, arg, print_report};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let settle = arg(&args, "--settle-secs").unwrap_or(60u64);
    let platform = Platform::from_env().await?;
    let started = Instant::now();
    let (checks, letters) = loop {
        let (checks, letters) = platform.evaluate().await?;
        if checks.iter().all(|c| c.ok) || started.elapsed() >= Duration::from_secs(settle) {
            break (checks, letters);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    if print_report(&checks, &letters, started.elapsed(), settle) > 0 {
        std::process::exit(1);
    }
    Ok(())
}
