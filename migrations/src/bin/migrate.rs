//! Runs a service's migrations by hand.
//!
//!     migrate <order|inventory|payment|email|analytics> [up|down|status|fresh|backfill] [options] [DATABASE_URL]
//!
//!     up [--steps N]      apply the pending migrations (the first N of them), as the
//!                         service does at start-up: one transaction, the advisory lock,
//!                         retried when a migration's lock_timeout fires
//!     down [--steps N]    roll back the last N applied migrations (default 1)
//!     status              list the migrations and whether each is applied
//!     fresh               drop everything and apply every migration (a dev database only)
//!     backfill [--batch N] [--pause-ms MS]
//!                         order only: copy orders.total_minor into total_amount_minor in
//!                         batches, each its own transaction (docs/online-migration.md)
//!
//! Services apply their own pending migrations at start-up; this is for operators.

use sea_orm_migration::{MigratorTrait, sea_orm::Database};

const USAGE: &str = "usage: migrate <order|inventory|payment|email|analytics> [up [--steps N]|down [--steps N]|status|fresh|backfill [--batch N] [--pause-ms MS]] [DATABASE_URL]";

/// The command line after the service: a command, its `--name value` options, and at most
/// one bare argument (the database URL).
struct Args {
    command: String,
    options: Vec<(String, String)>,
    url: Option<String>,
}

impl Args {
    fn parse(rest: &[String]) -> Result<Self, String> {
        let mut command = None;
        let mut options = Vec::new();
        let mut url = None;
        let mut items = rest.iter();
        while let Some(item) = items.next() {
            if let Some(name) = item.strip_prefix("--") {
                let (name, value) = match name.split_once('=') {
                    Some((n, v)) => (n.to_string(), v.to_string()),
                    None => (
                        name.to_string(),
                        items.next().ok_or(format!("--{name} needs a value"))?.clone(),
                    ),
                };
                options.push((name, value));
            } else if command.is_none() && !item.contains("://") {
                command = Some(item.clone());
            } else if url.is_none() {
                url = Some(item.clone());
            } else {
                return Err(format!("unexpected argument {item:?}"));
            }
        }
        Ok(Self {
            command: command.unwrap_or_else(|| "up".into()),
            options,
            url,
        })
    }

    /// A numeric option, `None` when absent; fails on an option this command does not take.
    fn number(&self, name: &str) -> Result<Option<u64>, String> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| {
                v.parse()
                    .map_err(|_| format!("--{name} must be a number, not {v:?}"))
            })
            .transpose()
    }

    fn only(&self, allowed: &[&str]) -> Result<(), String> {
        match self.options.iter().find(|(n, _)| !allowed.contains(&n.as_str())) {
            Some((n, _)) => Err(format!("{} takes no --{n}", self.command)),
            None => Ok(()),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some(service) = argv.first() else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let args = match Args::parse(&argv[1..]) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("migrate: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let url = args
        .url
        .clone()
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .unwrap_or_else(|| format!("postgres://{service}:{service}@127.0.0.1:25432/{service}"));
    let result = match service.as_str() {
        "order" if args.command == "backfill" => backfill(&url, &args).await,
        "order" => run::<migrations::order::Migrator>(&url, &args).await,
        "inventory" => run::<migrations::inventory::Migrator>(&url, &args).await,
        "payment" => run::<migrations::payment::Migrator>(&url, &args).await,
        "email" => run::<migrations::email::Migrator>(&url, &args).await,
        "analytics" => run::<migrations::analytics::Migrator>(&url, &args).await,
        other => Err(format!("unknown service {other:?}")),
    };
    if let Err(e) = result {
        eprintln!("migrate: {e}");
        std::process::exit(1);
    }
}

async fn run<M: MigratorTrait>(url: &str, args: &Args) -> Result<(), String> {
    let db = Database::connect(url).await.map_err(|e| e.to_string())?;
    let steps = |args: &Args| -> Result<Option<u32>, String> {
        args.only(&["steps"])?;
        Ok(args.number("steps")?.map(|n| n as u32))
    };
    let result = match args.command.as_str() {
        "up" => migrations::apply::<M>(&db, steps(args)?).await,
        "down" => migrations::revert::<M>(&db, steps(args)?.unwrap_or(1)).await,
        "status" => M::status(&db).await,
        "fresh" => M::fresh(&db).await,
        "backfill" => return Err("backfill is the order service's only (orders.total_amount_minor)".into()),
        other => return Err(format!("unknown command {other:?}")),
    };
    result.map_err(|e| e.to_string())
}

/// `migrate order backfill`: one line per batch, then a summary.
async fn backfill(url: &str, args: &Args) -> Result<(), String> {
    use migrations::order::backfill::{self, Options, Outcome};
    args.only(&["batch", "pause-ms"])?;
    let defaults = Options::default();
    let options = Options {
        batch: args.number("batch")?.unwrap_or(defaults.batch),
        pause: args
            .number("pause-ms")?
            .map_or(defaults.pause, std::time::Duration::from_millis),
    };
    let db = Database::connect(url).await.map_err(|e| e.to_string())?;
    println!(
        "backfill: orders.total_minor -> total_amount_minor, {} orders per batch, {:?} pause",
        options.batch, options.pause
    );
    let (progress, outcome) = backfill::run(&db, options, |p| {
        let share = match p.missing_at_start {
            0 => 100.0,
            n => (p.copied as f64 / n as f64 * 100.0).min(100.0),
        };
        println!(
            "backfill: pass {} batch {}: {} of ~{} copied ({share:.0}%), {:.1} s",
            p.passes,
            p.batches,
            p.copied,
            p.missing_at_start,
            p.elapsed.as_secs_f64()
        );
    })
    .await
    .map_err(|e| e.to_string())?;
    match outcome {
        Outcome::AlreadyContracted => println!("backfill: nothing to do, the contract migration already ran"),
        Outcome::Done => println!(
            "backfill: done: {} orders copied in {} batches, {} pass(es), {:.1} s; none left without total_amount_minor",
            progress.copied,
            progress.batches,
            progress.passes,
            progress.elapsed.as_secs_f64()
        ),
    }
    Ok(())
}
