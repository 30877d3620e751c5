//! The demo's "database unavailable for a short while" switch: a real outage of the order
//! service's own database, not a simulated error.
//!
//! From a separate connection to the server's maintenance database (`postgres`), the
//! order database stops accepting connections (`ALTER DATABASE … ALLOW_CONNECTIONS
//! false`, which its owner may do) and every session in it is terminated, as a restart or
//! a failover cuts them; after the chosen seconds the same connection lets them in again.
//! Meanwhile every checkout is answered 503 `database_unavailable` with Retry-After
//! (`platform_db::api_error`), readiness goes red, and a client that comes back after the
//! delay with the same Idempotency-Key ends with exactly one order.
//!
//! Why from another database: PostgreSQL refuses to disallow connections to the database
//! the session itself is in. Why that connection is held for the whole outage: once the
//! database refuses connections nobody, superusers included, can get in to undo it; the
//! connection to `postgres` is the way back. Should the process die meanwhile, `./dev`
//! lets connections in again when it (re)creates the roles and databases.

use std::time::Duration;

use sea_orm::sqlx::{self, Connection, PgConnection, postgres::PgConnectOptions};

/// The longest outage the switch accepts: long enough to watch, short enough that a
/// forgotten click heals itself.
pub const MAX_SECONDS: u64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum OutageError {
    #[error("the database is already refusing connections")]
    AlreadyDown,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Takes the database at `database_url` down for `duration`, then brings it back, in the
/// background. Returns once it is down: how many sessions were cut.
pub async fn start(database_url: &str, duration: Duration) -> Result<i64, OutageError> {
    let options: PgConnectOptions = database_url.parse()?;
    let database = options
        .get_database()
        .map(str::to_owned)
        .unwrap_or_else(|| options.get_username().to_owned());
    let mut admin = PgConnection::connect_with(&options.database("postgres")).await?;
    let allowed: bool = sqlx::query_scalar("SELECT datallowconn FROM pg_database WHERE datname = $1")
        .bind(&database)
        .fetch_one(&mut admin)
        .await?;
    if !allowed {
        return Err(OutageError::AlreadyDown);
    }
    set_allow_connections(&mut admin, &database, false).await?;
    let cut: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
    )
    .bind(&database)
    .fetch_one(&mut admin)
    .await?;
    tracing::warn!(
        database,
        sessions_cut = cut,
        seconds = duration.as_secs(),
        "database outage started (demo switch)"
    );
    actix_web::rt::spawn(async move {
        tokio::time::sleep(duration).await;
        // The way back must not be lost to one failed statement: try for a minute.
        for attempt in 1..=60 {
            match set_allow_connections(&mut admin, &database, true).await {
                Ok(()) => {
                    tracing::warn!(database, "database outage over: connections allowed again");
                    return;
                }
                Err(e) => {
                    tracing::error!(database, attempt, error = %e, "could not end the database outage; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    Ok(cut)
}

async fn set_allow_connections(
    admin: &mut PgConnection,
    database: &str,
    allow: bool,
) -> Result<(), sqlx::Error> {
    // ALTER DATABASE takes no parameters: the name is quoted by the server (format's %I).
    let statement: String = sqlx::query_scalar(
        "SELECT format('ALTER DATABASE %I WITH ALLOW_CONNECTIONS %s', $1::text, $2::text)",
    )
    .bind(database)
    .bind(allow.to_string())
    .fetch_one(&mut *admin)
    .await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
        .execute(&mut *admin)
        .await?;
    Ok(())
}
