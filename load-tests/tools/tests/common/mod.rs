//! What the checker tests share: the five service databases, migrated (and seeded) as the
//! services would do it, a vhost, and a way to run a checker binary against them.

#![allow(dead_code)] // each test binary uses its own part

use std::process::{Command, Output};

use platform_testing::{TestDatabase, TestVhost, management_url};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use sea_orm_migration::MigratorTrait;

pub struct Platform {
    pub order: TestDatabase,
    pub inventory: TestDatabase,
    pub payment: TestDatabase,
    pub email: TestDatabase,
    pub analytics: TestDatabase,
    pub vhost: TestVhost,
}

async fn migrated<M: MigratorTrait>(prefix: &str) -> TestDatabase {
    let db = TestDatabase::create(prefix).await;
    M::up(&connect(&db).await, None).await.expect("apply migrations");
    db
}

async fn connect(db: &TestDatabase) -> DatabaseConnection {
    Database::connect(&db.url)
        .await
        .expect("connect to test database")
}

pub async fn exec(db: &TestDatabase, sql: &str) {
    let conn = connect(db).await;
    conn.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
    let _ = conn.close().await;
}

impl Platform {
    /// `prefix` names the databases and the vhost (e.g. `inv` gives `inv_order`...).
    pub async fn create(prefix: &str) -> Self {
        Self {
            order: migrated::<migrations::order::Migrator>(&format!("{prefix}_order")).await,
            inventory: migrated::<migrations::inventory::Migrator>(&format!("{prefix}_inventory")).await,
            payment: migrated::<migrations::payment::Migrator>(&format!("{prefix}_payment")).await,
            email: migrated::<migrations::email::Migrator>(&format!("{prefix}_email")).await,
            analytics: migrated::<migrations::analytics::Migrator>(&format!("{prefix}_analytics")).await,
            vhost: TestVhost::create(prefix).await,
        }
    }

    /// Runs a checker binary against this platform; its exit code and stdout.
    pub fn run(&self, binary: &str, args: &[&str]) -> (i32, String) {
        let Output {
            status,
            stdout,
            stderr,
        } = Command::new(binary)
            .args(args)
            .env("ORDER_DATABASE_URL", &self.order.url)
            .env("INVENTORY_DATABASE_URL", &self.inventory.url)
            .env("PAYMENT_DATABASE_URL", &self.payment.url)
            .env("EMAIL_DATABASE_URL", &self.email.url)
            .env("ANALYTICS_DATABASE_URL", &self.analytics.url)
            .env("AMQP_URL", &self.vhost.amqp_url)
            .env("RABBITMQ_MANAGEMENT_URL", management_url())
            .output()
            .unwrap_or_else(|e| panic!("run {binary}: {e}"));
        let stdout = String::from_utf8_lossy(&stdout).into_owned();
        eprintln!("{stdout}{}", String::from_utf8_lossy(&stderr));
        (status.code().expect("checker exited normally"), stdout)
    }
}
