//! Runs a service's migrations by hand.
//!
//!     migrate <order|inventory|payment|email|analytics> [up|down|status|fresh] [DATABASE_URL]
//!
//! Services apply their own pending migrations at start-up; this is for operators.

use sea_orm_migration::{MigratorTrait, sea_orm::Database};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(service), command) = (args.first(), args.get(1).map(String::as_str).unwrap_or("up")) else {
        eprintln!(
            "usage: migrate <order|inventory|payment|email|analytics> [up|down|status|fresh] [DATABASE_URL]"
        );
        std::process::exit(2);
    };
    let url = args
        .get(2)
        .cloned()
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .unwrap_or_else(|| format!("postgres://{service}:{service}@127.0.0.1:55432/{service}"));
    let result = match service.as_str() {
        "order" => run::<migrations::order::Migrator>(&url, command).await,
        "inventory" => run::<migrations::inventory::Migrator>(&url, command).await,
        "payment" => run::<migrations::payment::Migrator>(&url, command).await,
        "email" => run::<migrations::email::Migrator>(&url, command).await,
        "analytics" => run::<migrations::analytics::Migrator>(&url, command).await,
        other => Err(format!("unknown service {other:?}")),
    };
    if let Err(e) = result {
        eprintln!("migrate: {e}");
        std::process::exit(1);
    }
}

async fn run<M: MigratorTrait>(url: &str, command: &str) -> Result<(), String> {
    let db = Database::connect(url).await.map_err(|e| e.to_string())?;
    let result = match command {
        "up" => M::up(&db, None).await,
        "down" => M::down(&db, Some(1)).await,
        "status" => M::status(&db).await,
        "fresh" => M::fresh(&db).await,
        other => return Err(format!("unknown command {other:?}")),
    };
    result.map_err(|e| e.to_string())
}
