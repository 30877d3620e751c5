crate::sql_migration!(
    "m20261205_200001_reservation_mode",
    r#"
-- How a product's reservations take its stock: 'row' (one transaction each, the default)
-- or 'batched' (services/inventory/src/batching.rs: single-line reservations of a truly hot
-- product taken many per transaction). A new column with a constant default is a catalog
-- change only in PostgreSQL 11 and later: no table rewrite, checkouts do not wait.
SET LOCAL lock_timeout = '1s';
ALTER TABLE products ADD COLUMN reservation_mode TEXT NOT NULL DEFAULT 'row'
    CHECK (reservation_mode IN ('row', 'batched'));
"#,
    r#"
SET LOCAL lock_timeout = '1s';
ALTER TABLE products DROP COLUMN reservation_mode;
"#
);
