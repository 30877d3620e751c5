crate::sql_migration!(
    "m20261122_000001_projections",
    r#"
-- Read models, rebuilt from events. Never used for a money decision.
CREATE TABLE orders_per_minute (
    minute         TIMESTAMPTZ NOT NULL,
    outcome        TEXT NOT NULL,
    orders         BIGINT NOT NULL DEFAULT 0,
    revenue_minor  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, outcome)
);
CREATE TABLE product_sales (
    sku            TEXT PRIMARY KEY,
    units          BIGINT NOT NULL DEFAULT 0,
    revenue_minor  BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE rejection_reasons (
    reason_code  TEXT PRIMARY KEY,
    orders       BIGINT NOT NULL DEFAULT 0
);
"#,
    "DROP TABLE rejection_reasons; DROP TABLE product_sales; DROP TABLE orders_per_minute;"
);
