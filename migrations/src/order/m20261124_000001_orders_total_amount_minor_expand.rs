//! Expand: `orders.total_amount_minor` beside `orders.total_minor`, kept equal by a trigger.
//!
//! Step 1 of the online rename of `total_minor` (docs/online-migration.md). The version that
//! writes only `total_minor` and the version that writes only `total_amount_minor` may run
//! side by side (a rolling deploy, a rollback): the dual write is done once, here, by the
//! database, instead of in every version of the code. Rows written before this migration
//! are copied by `migrate order backfill` (`migrations::order::backfill`), in batches.

crate::sql_migration!(
    "m20261124_000001_orders_total_amount_minor_expand",
    concat!(
        r#"
-- ALTER TABLE needs the table's ACCESS EXCLUSIVE lock. Waiting for it behind a long
-- transaction would queue every later query on orders behind this statement (a checkout
-- outage). Give up after 1 s instead (a third of the services' pool acquire timeout, so the
-- queries that waited still succeed); migrations::apply tries again after a pause.
SET LOCAL lock_timeout = '1s';
-- Nullable, no default: a catalog change only, no table rewrite, no scan; instant.
ALTER TABLE orders ADD COLUMN total_amount_minor BIGINT;
-- In the same transaction, so there is no moment with the column and without the trigger.
"#,
        orders_total_sync_sql!(),
        "SET LOCAL lock_timeout TO DEFAULT;"
    ),
    r#"
SET LOCAL lock_timeout = '1s';
-- The trigger kept total_minor complete: nothing to copy back.
DROP TRIGGER orders_total_amount_sync ON orders;
DROP FUNCTION orders_total_amount_sync();
ALTER TABLE orders DROP COLUMN total_amount_minor;
SET LOCAL lock_timeout TO DEFAULT;
"#
);
