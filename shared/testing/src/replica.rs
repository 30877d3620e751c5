//! The streaming replica, for the tests of read/write splitting: the replica `./dev` runs
//! beside the test PostgreSQL (`TEST_DATABASE_REPLICA_URL`), replay paused and resumed on
//! demand to make it lag for real.
//!
//! Pausing replay pauses it for every database on the server: a test that does it must be
//! the only one reading the replica at the time (services under test read the primary
//! only, unless a test gives them a replica: `TestDatabase::replica_url`).

use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

use crate::TestDatabase;

pub fn replica_admin_url() -> String {
    std::env::var("TEST_DATABASE_REPLICA_URL").unwrap_or_else(|_| {
        format!(
            "postgres://platform:platform@127.0.0.1:{}/postgres",
            platform_config::DEV_PG_PORT + 1
        )
    })
}

/// The replica's server, as an administrator of the tests sees it.
pub struct TestReplica {
    conn: DatabaseConnection,
}

impl TestReplica {
    pub async fn connect() -> Self {
        let url = replica_admin_url();
        let conn = Database::connect(&url).await.unwrap_or_else(|e| {
            panic!("cannot reach the test replica at {url} (run `./dev test`, which starts it): {e}")
        });
        Self { conn }
    }

    async fn run(&self, sql: &str) {
        self.conn
            .execute_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .unwrap_or_else(|e| panic!("{sql} on the replica: {e}"));
    }

    /// Stops applying WAL: from now on the replica shows the past.
    pub async fn pause_replay(&self) {
        self.run("SELECT pg_wal_replay_pause()").await;
    }

    pub async fn resume_replay(&self) {
        self.run("SELECT pg_wal_replay_resume()").await;
    }

    /// Waits until the replica has replayed everything the primary had written when this
    /// was called (the test's own database included).
    pub async fn catch_up(&self, primary: &TestDatabase, within: Duration) {
        let target = primary.text("SELECT pg_current_wal_lsn()::text").await;
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let row = self
                .conn
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    format!("SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn AS done"),
                ))
                .await
                .expect("ask the replica how far it replayed")
                .expect("a row");
            if row.try_get::<bool>("", "done").unwrap_or(false) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the replica did not replay up to {target} within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Never leave replay paused behind a failed test: every later replica read would be stale.
impl Drop for TestReplica {
    fn drop(&mut self) {
        let url = replica_admin_url();
        crate::block_on_side(async move {
            if let Ok(conn) = Database::connect(&url).await {
                let _ = conn
                    .execute_raw(Statement::from_string(
                        DbBackend::Postgres,
                        "SELECT pg_wal_replay_resume()",
                    ))
                    .await;
                let _ = conn.close().await;
            }
        });
    }
}
