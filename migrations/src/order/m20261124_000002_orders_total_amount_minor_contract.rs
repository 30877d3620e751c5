//! Contract: the trigger and `orders.total_minor` go; `total_amount_minor` is the total.
//!
//! The last step of the online rename (docs/online-migration.md). It ships in the release
//! after the one that switched the code to `total_amount_minor` (never in the same one: its
//! first instance would drop the column under the previous version's instances, which
//! still read it). At start-up of a database that skipped the batched backfill (a fresh or
//! a developer's database, which gets expand and contract in one go) the catch-up copies the
//! totals; after the backfill it finds nothing to copy.

crate::sql_migration!(
    "m20261124_000002_orders_total_amount_minor_contract",
    r#"
-- DROP TRIGGER and DROP COLUMN need ACCESS EXCLUSIVE: as in the expand migration, never
-- queue the table's queries behind a long transaction; migrations::apply retries.
SET LOCAL lock_timeout = '1s';
-- The catch-up, before the strong lock (an UPDATE only takes ROW EXCLUSIVE, which does not
-- block the service's reads and writes). Until the trigger is dropped, it keeps every row
-- written meanwhile complete.
UPDATE orders SET total_amount_minor = total_minor
    WHERE total_amount_minor IS NULL AND total_minor IS NOT NULL;
DROP TRIGGER orders_total_amount_sync ON orders;
DROP FUNCTION orders_total_amount_sync();
-- A catalog change only: the values stay in the heap, invisible, until rows are rewritten.
ALTER TABLE orders DROP COLUMN total_minor;
-- The constraints of total_minor, now on total_amount_minor: it had none. It was a nullable
-- BIGINT without default, CHECK or index (an order has no total until inventory prices it),
-- and so is total_amount_minor since the expand migration. Nothing to add.
SET LOCAL lock_timeout TO DEFAULT;
"#,
    concat!(
        r#"
-- Back to the expanded shape: total_minor again, complete, and the trigger that keeps it so.
SET LOCAL lock_timeout = '1s';
ALTER TABLE orders ADD COLUMN total_minor BIGINT;
"#,
        orders_total_sync_sql!(),
        r#"
-- One statement over the whole table: fine for a rollback on a developer's database; on a
-- large one, the batched backfill's loop in the other direction would be the online way.
UPDATE orders SET total_minor = total_amount_minor WHERE total_amount_minor IS NOT NULL;
SET LOCAL lock_timeout TO DEFAULT;
"#
    )
);
