crate::sql_migration!(
    "m20261204_000001_cancellations",
    r#"
-- A customer cancels a confirmed order until it ships (services/order/src/cancel.rs).
-- shipped_at: nullable, no default, so adding it only touches the catalog. The two new
-- compensations give a cancelled order's stock and money back. Replacing the CHECK scans a
-- small table under its lock; lock_timeout keeps checkouts from queueing behind it.
SET LOCAL lock_timeout = '1s';
ALTER TABLE orders ADD COLUMN shipped_at TIMESTAMPTZ;
ALTER TABLE compensations DROP CONSTRAINT compensations_kind_check;
ALTER TABLE compensations ADD CONSTRAINT compensations_kind_check
    CHECK (kind IN ('release_reservation', 'void_authorization', 'return_stock', 'refund_payment'));
"#,
    r#"
SET LOCAL lock_timeout = '1s';
ALTER TABLE compensations DROP CONSTRAINT compensations_kind_check;
ALTER TABLE compensations ADD CONSTRAINT compensations_kind_check
    CHECK (kind IN ('release_reservation', 'void_authorization'));
ALTER TABLE orders DROP COLUMN shipped_at;
"#
);
