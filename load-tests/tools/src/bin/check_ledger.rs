//! `check-ledger`: the judge of a chaos run (`./dev chaos`). Holds the client ledger k6
//! wrote against every database (see `load_tools::ledger` for LOST, DUPLICATED, UNEXPECTED
//! and RECOVERED), runs the business invariants of `check-invariants`, and reports each
//! fault's client-visible failure window and time to recover.
//!
//!   check-ledger --ledger FILE [--faults FILE] [--settle-secs N] [--json FILE]
//!
//! Effects are eventually consistent, so it re-evaluates once a second until nothing is
//! wrong or the settle time (default 120 s) runs out. Exits 1 when anything was lost,
//! duplicated or unexpected, or an invariant is violated; 2 when the ledger is empty.
//! Databases and broker as for `check-invariants` (the `*_DATABASE_URL`, `AMQP_URL` and
//! `RABBITMQ_MANAGEMENT_URL` variables). It only reads.

use std::time::{Duration, Instant};

use anyhow::Context;
use load_tools::{
    invariants::{Platform, arg, print_report},
    ledger::{self, Ledger},
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let settle = arg(&args, "--settle-secs").unwrap_or(120u64);
    let path: String = arg(&args, "--ledger").context("--ledger FILE is required")?;
    let ledger =
        Ledger::parse(&std::fs::read_to_string(&path).with_context(|| format!("reading the ledger {path}"))?);
    if ledger.keys.is_empty() {
        eprintln!("check-ledger: no ledger records in {path}");
        std::process::exit(2);
    }
    let faults = match arg::<String>(&args, "--faults") {
        Some(f) => ledger::parse_faults(
            &std::fs::read_to_string(&f).with_context(|| format!("reading the faults {f}"))?,
        ),
        None => Vec::new(),
    };

    let platform = Platform::from_env().await?;
    let started = Instant::now();
    let (checks, letters, verdict) = loop {
        let (checks, letters) = platform.evaluate().await?;
        let verdict = ledger::analyse(&platform, &ledger).await?;
        let clean = checks.iter().all(|c| c.ok) && verdict.violations() == 0;
        if clean || started.elapsed() >= Duration::from_secs(settle) {
            break (checks, letters, verdict);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let failed = print_report(&checks, &letters, started.elapsed(), settle);
    println!();
    ledger::print_verdict(&verdict, &ledger);
    println!();
    let windows = ledger::fault_windows(&ledger, &faults);
    ledger::print_windows(&windows);
    if let Some(out) = arg::<String>(&args, "--json") {
        let report = ledger::to_json(&verdict, &windows, failed);
        std::fs::write(&out, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {out}"))?;
    }
    let violations = verdict.violations();
    println!(
        "\nverdict: {} lost, {} duplicated, {} unexpected, {} recovered; {failed} invariants violated",
        verdict.count(ledger::Category::Lost),
        verdict.count(ledger::Category::Duplicated),
        verdict.count(ledger::Category::Unexpected),
        verdict.count(ledger::Category::Recovered),
    );
    if violations > 0 || failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
