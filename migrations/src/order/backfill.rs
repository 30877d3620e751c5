//! The backfill of the `total_minor` -> `total_amount_minor` rename: copies the total of
//! every order written before the expand migration, in batches, while the service runs.
//!
//! Not a migration, on purpose. A migration is one transaction: on a large table it would
//! hold the row locks of every order until the end (writers of those orders wait), keep one
//! snapshot open for its whole run (vacuum cannot clean up behind it), and produce its WAL
//! in one burst (the replica falls behind). Here each batch is its own short transaction
//! (an autocommit statement), with a pause after it.
//!
//! A batch is `FOR UPDATE SKIP LOCKED`: it never waits for an order a checkout is writing
//! at that moment, and never makes one wait longer than a batch takes. The batches walk
//! the primary key (keyset, `id > last`), so each reads only the next rows instead of
//! rescanning the ones done. A skipped row is filled by the trigger when its writer commits
//! (any update fills it), and otherwise by the next pass: passes repeat until none is left.
//! Rows whose `total_minor` is NULL (orders not priced yet) have nothing to copy.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, FromQueryResult, Statement, Value};

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Orders per batch (per transaction).
    pub batch: u64,
    /// Pause after each batch: room for the service's own queries, and for the replica.
    pub pause: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            batch: 1_000,
            pause: Duration::from_millis(50),
        }
    }
}

/// Where the backfill stands, after each batch and at the end.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Orders with a total and no `total_amount_minor` when the backfill started (one scan).
    pub missing_at_start: u64,
    /// Orders copied so far, by all batches.
    pub copied: u64,
    pub batches: u64,
    /// Passes over the table: 1, plus one per pass that had to pick up skipped rows.
    pub passes: u32,
    pub elapsed: Duration,
}

/// What the backfill found to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every order with a `total_minor` has its `total_amount_minor`.
    Done,
    /// The contract migration already ran (no `total_minor` any more): nothing to do.
    AlreadyContracted,
}

/// Copies `total_minor` into `total_amount_minor` for every order that lacks it, in batches
/// of `options.batch` orders, each its own transaction; `on_batch` hears after each one.
///
/// Takes a connection (pool), not a transaction: run inside one transaction, the batches
/// would be exactly the long transaction this is meant to avoid. Safe to stop and run again
/// at any moment (it only copies what is missing), and safe beside the service: the trigger
/// of the expand migration keeps every row it writes complete meanwhile.
pub async fn run(
    db: &DatabaseConnection,
    options: Options,
    mut on_batch: impl FnMut(&Progress),
) -> Result<(Progress, Outcome), DbErr> {
    let started = Instant::now();
    let mut progress = Progress::default();
    match (
        column_exists(db, "total_minor").await?,
        column_exists(db, "total_amount_minor").await?,
    ) {
        (false, _) => return Ok((progress, Outcome::AlreadyContracted)),
        (true, false) => {
            return Err(DbErr::Custom(
                "orders.total_amount_minor does not exist: apply the expand migration first (migrate order up --steps 1)".into(),
            ));
        }
        (true, true) => {}
    }
    progress.missing_at_start = count(
        db,
        "SELECT count(*) AS n FROM orders WHERE total_amount_minor IS NULL AND total_minor IS NOT NULL",
    )
    .await?;
    let batch = options.batch.max(1) as i64;
    loop {
        progress.passes += 1;
        let mut last = uuid_min();
        loop {
            let done = Batch::find_by_statement(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "WITH batch AS ( \
                   SELECT id FROM orders \
                   WHERE id > $1::uuid AND total_amount_minor IS NULL AND total_minor IS NOT NULL \
                   ORDER BY id LIMIT $2 \
                   FOR UPDATE SKIP LOCKED), \
                 copied AS ( \
                   UPDATE orders o SET total_amount_minor = o.total_minor \
                   FROM batch WHERE o.id = batch.id \
                   RETURNING o.id) \
                 SELECT count(*) AS n, (SELECT id::text FROM batch ORDER BY id DESC LIMIT 1) AS last \
                 FROM copied",
                [Value::from(last.clone()), batch.into()],
            ))
            .one(db)
            .await?
            .unwrap_or_default();
            let Some(batch_last) = done.last else { break };
            last = batch_last;
            progress.copied += done.n as u64;
            progress.batches += 1;
            progress.elapsed = started.elapsed();
            on_batch(&progress);
            tokio::time::sleep(options.pause).await;
        }
        // Rows skipped because a writer held them (and that no update has filled since)
        // are behind the cursor: another pass picks them up.
        let left = count(
            db,
            "SELECT count(*) AS n FROM (SELECT 1 FROM orders \
             WHERE total_amount_minor IS NULL AND total_minor IS NOT NULL LIMIT 1) l",
        )
        .await?;
        if left == 0 {
            progress.elapsed = started.elapsed();
            return Ok((progress, Outcome::Done));
        }
    }
}

#[derive(Debug, Default, FromQueryResult)]
struct Batch {
    n: i64,
    last: Option<String>,
}

fn uuid_min() -> String {
    "00000000-0000-0000-0000-000000000000".into()
}

async fn count(db: &DatabaseConnection, sql: &str) -> Result<u64, DbErr> {
    #[derive(FromQueryResult)]
    struct Count {
        n: i64,
    }
    let row = Count::find_by_statement(Statement::from_string(DbBackend::Postgres, sql))
        .one(db)
        .await?;
    Ok(row.map_or(0, |r| r.n as u64))
}

async fn column_exists(db: &DatabaseConnection, column: &str) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = 'orders' AND column_name = $1",
            [column.into()],
        ))
        .await?;
    Ok(row.is_some())
}
