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

pub mod analytics;
pub mod email;
pub mod inventory;
pub mod messaging;
pub mod order;
pub mod payment;

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
/// migrations such as the outbox table. New migrations are only ever appended.
#[macro_export]
macro_rules! migrator {
    ($($module:ident),+ $(; $($shared:expr),+)? $(,)?) => {
        $(mod $module;)+

        pub struct Migrator;

        #[sea_orm_migration::async_trait::async_trait]
        impl sea_orm_migration::MigratorTrait for Migrator {
            fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
                vec![$(Box::new($module::Migration)),+ $($(, Box::new($shared))+)?]
            }
        }
    };
}
