crate::sql_migration!(
    "m20261204_000001_returned_reservations",
    r#"
-- A cancelled order's stock goes back on sale: reservations gain the status 'returned'
-- (services/inventory/src/stock.rs, return_stock). Replacing the CHECK scans the table under
-- its lock: milliseconds at this platform's sizes, and lock_timeout keeps checkouts from
-- queueing behind it (apply retries). On a large table it would be added NOT VALID and
-- validated in a later transaction (migrations here run in one).
SET LOCAL lock_timeout = '1s';
ALTER TABLE reservations DROP CONSTRAINT reservations_status_check;
ALTER TABLE reservations ADD CONSTRAINT reservations_status_check
    CHECK (status IN ('reserved', 'committed', 'released', 'expired', 'returned'));
"#,
    r#"
SET LOCAL lock_timeout = '1s';
ALTER TABLE reservations DROP CONSTRAINT reservations_status_check;
ALTER TABLE reservations ADD CONSTRAINT reservations_status_check
    CHECK (status IN ('reserved', 'committed', 'released', 'expired'));
"#
);
