//! Database connection set-up shared by every service.
//!
//! Each service owns exactly one database; nothing here lets a service reach another's.

use std::time::Duration;

use futures_util::FutureExt;
use platform_http::Probe;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, TransactionTrait};
use sea_orm_migration::MigratorTrait;

/// Opens the connection pool.
///
/// Timeouts are short on purpose: when the database is gone, a request should fail in
/// seconds with a clear error, not hang until the client's own timeout fires and it retries
/// (which is how one slow dependency turns into a retry storm).
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(3))
        .acquire_timeout(Duration::from_secs(3))
        .sqlx_logging(false);
    Database::connect(options).await
}

/// Applies the service's pending migrations at start-up.
///
/// Several instances of a service may start at once. They serialise on a transaction-scoped
/// advisory lock, so exactly one applies each migration and the others find nothing to do,
/// instead of racing to create the same table.
pub async fn migrate<M: MigratorTrait>(db: &DatabaseConnection) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    txn.execute_unprepared("SELECT pg_advisory_xact_lock(7100001)")
        .await?;
    M::up(&txn, None).await?;
    txn.commit().await?;
    tracing::info!("database migrations applied");
    Ok(())
}

/// Readiness: the database answers a trivial query.
pub fn probe(db: DatabaseConnection) -> Probe {
    Probe::new("database", move || {
        let db = db.clone();
        async move { db.ping().await.map_err(|e| e.to_string()) }.boxed()
    })
}
