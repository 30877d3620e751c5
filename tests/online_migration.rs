//! The online rename of `orders.total_minor` to `orders.total_amount_minor`
//! (docs/online-migration.md), against the real PostgreSQL, each test on its own database.
//!
//! Writers of the previous version (they know only `total_minor`) and of the next one (only
//! `total_amount_minor`) keep inserting and updating orders, one statement or one short
//! transaction at a time, while expand, the batched backfill and contract run, as in a
//! rolling deploy: the previous version writes until the contract is about to run, the next
//! one from the moment expand has committed. No writer may see an error, every write must
//! be readable at once through the other version's column, and at the end every order must
//! hold the total it was last given. The same run with the trigger disabled must lose totals:
//! that is what the trigger is for, and it shows that this test would notice its absence.
//!
//! A binary of its own: it starts no service (it links the migrations and sea-orm, not the
//! platform), so it builds and runs in seconds, alone: `cargo test -p end-to-end --test
//! online_migration`.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use migrations::order::{Migrator, TotalAmountContract, TotalAmountExpand, backfill};
use platform_testing::TestDatabase;
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait, Value,
};
use sea_orm_migration::{MigrationName, MigrationTrait, MigratorTrait};
use tokio::sync::RwLock;
use uuid::Uuid;

/// The order schema as the previous version left it: every migration but the rename's.
struct Before;

impl MigratorTrait for Before {
    /// The previous version's schema: every migration before the rename's expand step.
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let expand = TotalAmountExpand.name().to_string();
        Migrator::migrations()
            .into_iter()
            .take_while(|m| m.name() != expand)
            .collect()
    }
}

/// How many migrations came after the rename's contract step: a rollback of the rename
/// undoes them first, newest first.
fn after_contract() -> u32 {
    let names: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    let contract = TotalAmountContract.name().to_string();
    let at = names
        .iter()
        .position(|n| *n == contract)
        .expect("the contract migration is listed");
    (names.len() - at - 1) as u32
}

/// Where the rollout is; a writer holds it (read) for the whole of one write, so the driver
/// (write) only moves it between writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd)]
enum Phase {
    /// Only `total_minor` exists: the previous version writes.
    Before,
    /// Expanded: both versions write, each its own column.
    Expanded,
    /// The previous version is gone; the contract migration runs or has run.
    NextOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    Previous,
    Next,
}

impl Version {
    fn column(self) -> &'static str {
        match self {
            Version::Previous => "total_minor",
            Version::Next => "total_amount_minor",
        }
    }
}

#[derive(Default)]
struct Report {
    /// Errors any writer saw: must be none.
    errors: Vec<String>,
    /// A write not readable at once through the other version's column.
    not_mirrored: Vec<String>,
    /// Orders whose final `total_amount_minor` is not the total they were last given.
    wrong_at_end: Vec<String>,
    writes: u64,
    backfill: backfill::Progress,
}

const WRITERS: usize = 4;
const SEEDED: usize = 3_000;

async fn connect(db: &TestDatabase) -> DatabaseConnection {
    Database::connect(&db.url)
        .await
        .expect("connect to the test database")
}

async fn exec(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> Result<u64, DbErr> {
    Ok(db
        .execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
        .await?
        .rows_affected())
}

/// The total of seeded order `i`: a third have none yet (not priced).
fn seeded_total(i: usize) -> Option<i64> {
    (!i.is_multiple_of(3)).then_some(1_000 + i as i64)
}

/// Orders written before the migration, through `total_minor`, in one statement.
async fn seed(db: &DatabaseConnection) -> Vec<(Uuid, Option<i64>)> {
    let rows: Vec<(Uuid, Option<i64>)> = (0..SEEDED).map(|i| (Uuid::new_v4(), seeded_total(i))).collect();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let totals: Vec<i64> = rows.iter().map(|r| r.1.unwrap_or(-1)).collect();
    exec(
        db,
        "INSERT INTO orders (id, customer_id, status, total_minor, payment_method, correlation_id, deadline_at) \
         SELECT id, 'seeded', 'pending', NULLIF(total, -1), 'card', 'seed', now() + interval '1 hour' \
         FROM unnest($1::uuid[], $2::bigint[]) AS s(id, total)",
        vec![ids.into(), totals.into()],
    )
    .await
    .expect("seed orders");
    rows
}

/// One writer: owns its orders (the seeded ones it is given and those it creates), so it
/// knows the total each must hold. Each write goes through the column of a version the
/// rollout allows at that moment, alternating when both may write.
async fn writer(
    n: usize,
    db: DatabaseConnection,
    phase: Arc<RwLock<Phase>>,
    stop: Arc<AtomicBool>,
    mut owned: Vec<(Uuid, Option<i64>)>,
    report: Arc<Mutex<Report>>,
) -> HashMap<Uuid, Option<i64>> {
    let mut step: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        step += 1;
        let phase_now = phase.read().await;
        let version = match *phase_now {
            Phase::Before => Version::Previous,
            Phase::Expanded if (step + n as u64).is_multiple_of(2) => Version::Previous,
            _ => Version::Next,
        };
        let column = version.column();
        let value = (n as i64 + 1) * 1_000_000 + step as i64;
        // Mostly updates, as in the service (a checkout updates its order several times);
        // some without a total (a status change only); some holding the row for a moment.
        let result: Result<(Uuid, Option<i64>), DbErr> = if step.is_multiple_of(5) || owned.is_empty() {
            let id = Uuid::new_v4();
            let total = (!step.is_multiple_of(10)).then_some(value);
            exec(
                &db,
                &format!(
                    "INSERT INTO orders (id, customer_id, status, {column}, payment_method, correlation_id, deadline_at) \
                     VALUES ($1, $2, 'pending', $3, 'card', 'writer', now() + interval '1 hour')"
                ),
                vec![id.into(), format!("writer-{n}").into(), total.into()],
            )
            .await
            .map(|_| {
                owned.push((id, total));
                (id, total)
            })
        } else {
            let slot = (step as usize * 7919 + n) % owned.len();
            let (id, before) = owned[slot];
            let total = if step.is_multiple_of(4) { None } else { Some(value) };
            let sql = format!(
                "UPDATE orders SET status = 'stock_reserved', {column} = COALESCE($2, {column}), \
                 updated_at = now() WHERE id = $1"
            );
            let values = vec![id.into(), total.into()];
            let written = if step.is_multiple_of(7) {
                async {
                    let txn = db.begin().await?;
                    exec(&txn, &sql, values).await?;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    txn.commit().await
                }
                .await
            } else {
                exec(&db, &sql, values).await.map(|_| ())
            };
            written.map(|_| {
                let now = total.or(before);
                owned[slot].1 = now;
                (id, now)
            })
        };
        match result {
            Err(e) => report
                .lock()
                .unwrap()
                .errors
                .push(format!("writer {n} ({version:?}, {:?}): {e}", *phase_now)),
            Ok((id, expected)) => {
                report.lock().unwrap().writes += 1;
                // While both columns exist, the other version reads what this one wrote.
                if *phase_now == Phase::Expanded {
                    match both_totals(&db, id).await {
                        Ok(seen) if seen == (expected, expected) => {}
                        Ok(seen) => report.lock().unwrap().not_mirrored.push(format!(
                            "{id}: {version:?} wrote {expected:?}, (total_minor, total_amount_minor) = {seen:?}"
                        )),
                        Err(e) => report.lock().unwrap().errors.push(format!("writer {n} read: {e}")),
                    }
                }
            }
        }
        drop(phase_now);
        tokio::task::yield_now().await;
    }
    owned.into_iter().collect()
}

async fn both_totals(db: &DatabaseConnection, id: Uuid) -> Result<(Option<i64>, Option<i64>), DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT total_minor, total_amount_minor FROM orders WHERE id = $1",
            [id.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(id.to_string()))?;
    Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?))
}

/// The whole rollout under concurrent writers. `after_expand` runs right after the expand
/// migration (the negative test disables the trigger there).
async fn rollout(after_expand: &str) -> Report {
    let database = TestDatabase::create("online_migration").await;
    let admin = connect(&database).await;
    Before::up(&admin, None)
        .await
        .expect("the previous version's schema");
    let seeded = seed(&admin).await;

    let phase = Arc::new(RwLock::new(Phase::Before));
    let stop = Arc::new(AtomicBool::new(false));
    let report = Arc::new(Mutex::new(Report::default()));
    let writers: Vec<_> = (0..WRITERS)
        .map(|n| {
            let owned = seeded.iter().skip(n).step_by(WRITERS).copied().collect();
            let (phase, stop, report) = (phase.clone(), stop.clone(), report.clone());
            let database_url = database.url.clone();
            tokio::spawn(async move {
                let db = Database::connect(&database_url).await.expect("writer connects");
                writer(n, db, phase, stop, owned, report).await
            })
        })
        .collect();
    let steady = Duration::from_millis(400);
    tokio::time::sleep(steady).await;

    // Expand, as `migrate order up --steps 1` does it.
    migrations::apply::<Migrator>(&admin, Some(1))
        .await
        .expect("expand");
    if !after_expand.is_empty() {
        admin
            .execute_unprepared(after_expand)
            .await
            .expect("after expand");
    }
    *phase.write().await = Phase::Expanded;
    tokio::time::sleep(steady).await;

    // The backfill, in small batches so that it runs for a while beside the writers.
    let options = backfill::Options {
        batch: 200,
        pause: Duration::from_millis(5),
    };
    let (progress, outcome) = backfill::run(&admin, options, |_| {}).await.expect("backfill");
    assert_eq!(outcome, backfill::Outcome::Done);
    report.lock().unwrap().backfill = progress;
    tokio::time::sleep(steady).await;

    // The previous version is gone (its last write has finished); then contract.
    *phase.write().await = Phase::NextOnly;
    migrations::apply::<Migrator>(&admin, None)
        .await
        .expect("contract");
    tokio::time::sleep(steady).await;

    stop.store(true, Ordering::Relaxed);
    let mut expected = HashMap::new();
    for w in writers {
        expected.extend(w.await.expect("writer task"));
    }

    let rows = admin
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT id, total_amount_minor FROM orders",
        ))
        .await
        .expect("read the orders");
    let mut report = Arc::try_unwrap(report).ok().unwrap().into_inner().unwrap();
    assert_eq!(
        rows.len(),
        expected.len(),
        "every order a writer wrote, and no other"
    );
    for row in rows {
        let id: Uuid = row.try_get_by_index(0).unwrap();
        let total: Option<i64> = row.try_get_by_index(1).unwrap();
        if expected.get(&id) != Some(&total) {
            report.wrong_at_end.push(format!(
                "{id}: total_amount_minor {total:?}, last written {:?}",
                expected.get(&id)
            ));
        }
    }
    let leftovers = database
        .scalar(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'total_minor' \
             UNION ALL SELECT 0 ORDER BY 1 DESC LIMIT 1",
        )
        .await
        + database
            .scalar("SELECT count(*) FROM pg_trigger WHERE tgname = 'orders_total_amount_sync'")
            .await
        + database
            .scalar("SELECT count(*) FROM pg_proc WHERE proname = 'orders_total_amount_sync'")
            .await;
    assert_eq!(
        leftovers, 0,
        "contract dropped total_minor, the trigger and its function"
    );
    let _ = admin.close().await;
    report
}

fn summary(r: &Report) -> String {
    format!(
        "{} writes, {} errors, {} not mirrored, {} wrong at the end; backfill {:?}",
        r.writes,
        r.errors.len(),
        r.not_mirrored.len(),
        r.wrong_at_end.len(),
        r.backfill
    )
}

#[tokio::test]
async fn expand_backfill_and_contract_under_writers_of_both_versions() {
    let report = rollout("").await;
    eprintln!("{}", summary(&report));
    assert!(
        report.errors.is_empty(),
        "writers saw errors: {:#?}",
        report.errors
    );
    assert!(
        report.not_mirrored.is_empty(),
        "a write was not visible through the other column: {:#?}",
        &report.not_mirrored[..report.not_mirrored.len().min(10)]
    );
    assert!(
        report.wrong_at_end.is_empty(),
        "orders lost their total: {:#?}",
        &report.wrong_at_end[..report.wrong_at_end.len().min(10)]
    );
    // The seeded orders with a total were copied in batches, not in one statement.
    let priced = (0..SEEDED).filter(|&i| seeded_total(i).is_some()).count() as u64;
    assert!(report.backfill.batches >= 2, "{:?}", report.backfill);
    assert!(
        report.backfill.copied > 0 && report.backfill.copied <= priced,
        "{:?}",
        report.backfill
    );
    assert!(
        report.writes > 200,
        "the writers barely ran: {}",
        summary(&report)
    );
}

/// The same rollout with the dual write disabled right after expand (the trigger's function
/// replaced by one that changes nothing, so that contract still finds it to drop): writes
/// of one version are invisible to the other, and totals written through `total_minor`
/// after the backfill are lost at contract. The test above would fail the same way.
#[tokio::test]
async fn without_the_trigger_the_same_rollout_loses_totals() {
    let report = rollout(
        "CREATE OR REPLACE FUNCTION orders_total_amount_sync() RETURNS trigger LANGUAGE plpgsql \
         AS $$ BEGIN RETURN NEW; END $$",
    )
    .await;
    eprintln!("{}", summary(&report));
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert!(!report.not_mirrored.is_empty(), "{}", summary(&report));
    assert!(!report.wrong_at_end.is_empty(), "{}", summary(&report));
}

/// A developer's `.dev` database made by the previous version, orders in it, and no
/// backfill: the next version's start-up (`platform_db::migrate`, expand and contract in
/// one go) leaves every total in `total_amount_minor`. Then down, one step at a time, back
/// to the expanded and to the previous shape with every total, and up again.
#[tokio::test]
async fn a_database_of_the_previous_version_upgrades_at_start_up_and_rolls_back() {
    let database = TestDatabase::create("online_migration_upgrade").await;
    let db = connect(&database).await;
    Before::up(&db, None)
        .await
        .expect("the previous version's schema");
    seed(&db).await;
    let priced = (0..SEEDED).filter(|&i| seeded_total(i).is_some()).count() as i64;
    let sum: i64 = (0..SEEDED).filter_map(seeded_total).sum();
    let totals = |column: &str| {
        format!("SELECT count({column}) * 1000000000000 + COALESCE(sum({column}), 0)::bigint FROM orders")
    };
    let want = priced * 1_000_000_000_000 + sum;

    platform_db::migrate::<Migrator>(&db)
        .await
        .expect("start-up migrations");
    assert_eq!(database.scalar(&totals("total_amount_minor")).await, want);
    let has_column = |column: &str| {
        format!(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders' AND column_name = '{column}'"
        )
    };
    assert_eq!(database.scalar(&has_column("total_minor")).await, 0);

    migrations::revert::<Migrator>(&db, after_contract() + 1)
        .await
        .expect("later migrations, then contract, down");
    assert_eq!(database.scalar(&totals("total_minor")).await, want);
    assert_eq!(
        database
            .scalar("SELECT count(*) FROM pg_trigger WHERE tgname = 'orders_total_amount_sync'")
            .await,
        1,
        "back to the expanded shape, trigger included"
    );
    migrations::revert::<Migrator>(&db, 1).await.expect("expand down");
    assert_eq!(database.scalar(&has_column("total_amount_minor")).await, 0);
    assert_eq!(database.scalar(&totals("total_minor")).await, want);

    platform_db::migrate::<Migrator>(&db)
        .await
        .expect("start-up migrations again");
    assert_eq!(database.scalar(&totals("total_amount_minor")).await, want);
    let _ = db.close().await;
}
