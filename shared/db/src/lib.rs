//! Database connection set-up shared by every service.
//!
//! Each service owns exactly one database; nothing here lets a service reach another's.

pub mod reads;

use std::time::Duration;

use futures_util::FutureExt;
use platform_http::Probe;
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
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

/// Opens the replica's pool without connecting yet: a replica that is down at start-up is a
/// degraded service (tolerant reads use the primary), not a service that cannot start.
pub async fn connect_replica(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .min_connections(0)
        .connect_lazy(true)
        .connect_timeout(Duration::from_secs(1))
        .acquire_timeout(Duration::from_secs(1))
        .sqlx_logging(false);
    Database::connect(options).await
}

/// Applies the service's pending migrations at start-up ([`migrations::apply`]).
///
/// Several instances of a service may start at once. They serialise on a transaction-scoped
/// advisory lock, so exactly one applies each migration and the others find nothing to do,
/// instead of racing to create the same table. A migration that gives up waiting for a
/// table lock (its `lock_timeout`) is tried again, a few times, before start-up fails.
pub async fn migrate<M: MigratorTrait>(db: &DatabaseConnection) -> Result<(), DbErr> {
    migrations::apply::<M>(db, None).await?;
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

/// How long a client is told to wait (`Retry-After`) when the database is unavailable.
const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 1;

/// Whether the error means "the database cannot be reached right now" (down, restarting,
/// the connection dropped mid-statement, the pool saturated) rather than a wrong statement.
///
/// The difference decides what the client hears. A database that restarts is an expected
/// condition: 503 with Retry-After tells a client (and a load balancer) to come back,
/// whereas a 500 says "bug", and is retried by nobody or by everybody at once.
pub fn is_unavailable(e: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx::Error as Sqlx};
    match e {
        // No connection could be had at all: whatever the server said (refused, "not
        // currently accepting connections", too many clients), it is not this statement's
        // fault.
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match e.as_ref() {
            Sqlx::Io(_)
            | Sqlx::Tls(_)
            | Sqlx::Protocol(_)
            | Sqlx::PoolTimedOut
            | Sqlx::PoolClosed
            | Sqlx::WorkerCrashed => true,
            // 08: connection exceptions; 57P01-57P03: the server is shutting down, crashed,
            // or not yet accepting connections (starting up, in recovery).
            Sqlx::Database(db) => db
                .code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
            _ => false,
        },
        _ => false,
    }
}

/// A database error as a client sees it: 503 `database_unavailable` with Retry-After when
/// the database cannot be reached (readiness is red meanwhile), otherwise a 500 whose
/// cause is logged and never sent.
pub fn api_error(e: DbErr) -> platform_http::ApiError {
    if is_unavailable(&e) {
        tracing::warn!(error = %e, "database unavailable; answering 503");
        metrics::counter!("database_unavailable_total").increment(1);
        platform_http::ApiError::unavailable(
            "database_unavailable",
            "the database is unavailable right now; retry after the Retry-After delay (with the same Idempotency-Key, if the request had one)",
            UNAVAILABLE_RETRY_AFTER_SECS,
        )
    } else {
        platform_http::ApiError::internal(e)
    }
}
