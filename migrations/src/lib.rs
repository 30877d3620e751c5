//! One migrator per service database.
//!
//! Each service owns its schema and applies its own pending migrations at start-up
//! (`platform_db::migrate::<migrations::order::Migrator>`), so a service and its schema are
//! deployed together. The `migrate` binary runs the same migrators by hand.
//!
//! Migrations are written in plain SQL: the schema is where the platform's guarantees are
//! enforced (CHECK constraints that keep stock non-negative, primary keys that make an
//! operation idempotent), and SQL is the clearest place to read them.
//!
//! Schema changes follow expand/contract: add a column or table (expand), deploy code that
//! writes both shapes, migrate readers, and only then drop the old shape (contract) in a
//! later migration. A migration never renames or drops something the running version reads.
//! docs/online-migration.md walks through one (`orders.total_minor` to
//! `orders.total_amount_minor`), done under load.
//!
//! A migration that takes a strong table lock (`ALTER TABLE`, `DROP TRIGGER`) starts with
//! `SET LOCAL lock_timeout`: a DDL statement waiting for its lock makes every later query on
//! the table wait behind it, so it must give up quickly instead; [`apply`] then tries again.

use std::time::Duration;

use sea_orm_migration::{
    MigratorTrait,
    sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, RuntimeErr, TransactionTrait, sqlx},
};

pub mod analytics;
pub mod email;
pub mod inventory;
pub mod messaging;
pub mod order;
pub mod payment;
pub mod service;

/// A migration that is just SQL, named after its module.
#[macro_export]
macro_rules! sql_migration {
    ($name:literal, $up:expr, $down:expr) => {
        pub struct Migration;

        impl sea_orm_migration::MigrationName for Migration {
            fn name(&self) -> &str {
                $name
            }
        }

        #[sea_orm_migration::async_trait::async_trait]
        impl sea_orm_migration::MigrationTrait for Migration {
            async fn up(
                &self,
                manager: &sea_orm_migration::SchemaManager,
            ) -> Result<(), sea_orm_migration::DbErr> {
                sea_orm_migration::sea_orm::ConnectionTrait::execute_unprepared(manager.get_connection(), $up)
                    .await
                    .map(|_| ())
            }

            async fn down(
                &self,
                manager: &sea_orm_migration::SchemaManager,
            ) -> Result<(), sea_orm_migration::DbErr> {
                sea_orm_migration::sea_orm::ConnectionTrait::execute_unprepared(
                    manager.get_connection(),
                    $down,
                )
                .await
                .map(|_| ())
            }
        }
    };
}

/// Declares a service's `Migrator`: its own migration modules, then (after `;`) shared
/// migrations such as the outbox table, then (after a second `;`) its own migrations written
/// after those. New migrations are only ever appended: `down` undoes the list from its end,
/// so a migration inserted before the shared ones would be rolled back after them.
#[macro_export]
macro_rules! migrator {
    ($($module:ident),+ $(; $($shared:expr),+ $(; $($later:ident),+)?)? $(,)?) => {
        $(mod $module;)+
        $($($(mod $later;)+)?)?

        pub struct Migrator;

        #[sea_orm_migration::async_trait::async_trait]
        impl sea_orm_migration::MigratorTrait for Migrator {
            fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
                vec![
                    $(Box::new($module::Migration)),+
                    $($(, Box::new($shared))+ $($(, Box::new($later::Migration))+)?)?
                ]
            }
        }
    };
}

/// The advisory lock every applier of migrations takes, whichever service or tool it is.
const MIGRATION_LOCK: i64 = 7100001;

/// How often [`apply`] tries when a migration gave up waiting for a lock (`lock_timeout`),
/// and the pause before the first retry (doubled each time, at most [`MAX_RETRY_PAUSE`]).
pub const LOCK_RETRIES: u32 = 10;
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(500);
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(8);

/// Applies `M`'s pending migrations (the first `steps` of them; all with `None`): what a
/// service does at start-up and what `migrate <service> up` does, so both behave the same.
///
/// - One transaction holding an advisory lock: instances starting at once (or a service
///   and an operator) serialise, and exactly one applies each migration.
/// - When a migration's `lock_timeout` fires (SQLSTATE 55P03: a long transaction held the
///   table), everything is rolled back and tried again after a pause, up to
///   [`LOCK_RETRIES`] times. Each try makes the table's queries wait at most one
///   `lock_timeout`; the pause in between lets them drain.
pub async fn apply<M: MigratorTrait>(db: &DatabaseConnection, steps: Option<u32>) -> Result<(), DbErr> {
    let mut pause = FIRST_RETRY_PAUSE;
    let mut attempt = 1;
    loop {
        match apply_once::<M>(db, steps).await {
            Err(e) if is_lock_timeout(&e) && attempt < LOCK_RETRIES => {
                tracing::warn!(
                    attempt,
                    error = %e,
                    "a migration gave up waiting for its table lock; retrying in {pause:?}"
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_RETRY_PAUSE);
                attempt += 1;
            }
            result => return result,
        }
    }
}

async fn apply_once<M: MigratorTrait>(db: &DatabaseConnection, steps: Option<u32>) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        .await?;
    M::up(&txn, steps).await?;
    txn.commit().await
}

/// Rolls back the last `steps` applied migrations of `M`, under the same lock as [`apply`].
pub async fn revert<M: MigratorTrait>(db: &DatabaseConnection, steps: u32) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        .await?;
    M::down(&txn, Some(steps)).await?;
    txn.commit().await
}

/// Whether a statement gave up waiting for a lock (`lock_timeout`, SQLSTATE 55P03).
pub fn is_lock_timeout(e: &DbErr) -> bool {
    match e {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            matches!(e.as_ref(), sqlx::Error::Database(db) if db.code().as_deref() == Some("55P03"))
        }
        // sea-orm-migration may hand the error on as text.
        other => other.to_string().contains("lock timeout"),
    }
}
