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
-- One row per order counted, with the correlation id of the checkout it came from: the
-- journey of an order can show "analytics counted it, at this time".
CREATE TABLE counted_orders (
    order_id        UUID PRIMARY KEY,
    outcome         TEXT NOT NULL,
    total_minor     BIGINT NOT NULL DEFAULT 0,
    correlation_id  TEXT NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    counted_at      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
-- How far behind the projection is: the newest event applied, and the last heartbeat.
CREATE TABLE projection_status (
    name               TEXT PRIMARY KEY,
    last_event_at      TIMESTAMPTZ NOT NULL,
    last_processed_at  TIMESTAMPTZ NOT NULL
);
CREATE TABLE heartbeats (
    producer     TEXT PRIMARY KEY,
    sent_at      TIMESTAMPTZ NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL
);
"#,
    "DROP TABLE heartbeats; DROP TABLE projection_status; DROP TABLE counted_orders; DROP TABLE rejection_reasons; DROP TABLE product_sales; DROP TABLE orders_per_minute;"
);
