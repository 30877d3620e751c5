crate::sql_migration!(
    "m20261122_000001_catalog_and_stock",
    r#"
-- Stock is split into three buckets that always add up to the initial stock:
--   available (can be sold) + reserved (held for an order in checkout) + sold = initial_stock.
-- The CHECK constraints are the last line of defence against overselling: even a buggy
-- query cannot drive a bucket below zero, the transaction fails instead.
CREATE TABLE products (
    sku            TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL,
    price_minor    BIGINT NOT NULL CHECK (price_minor >= 0),
    currency       CHAR(3) NOT NULL DEFAULT 'EUR',
    initial_stock  INTEGER NOT NULL CHECK (initial_stock >= 0),
    available      INTEGER NOT NULL CHECK (available >= 0),
    reserved       INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    sold           INTEGER NOT NULL DEFAULT 0 CHECK (sold >= 0),
    hot            BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (available + reserved + sold = initial_stock)
);

-- One reservation per order: the order id is the idempotency key of reserve, release
-- and commit. A release that arrives before its reserve (the reserve request was slow)
-- leaves a 'released' row behind, so the late reserve finds it and does nothing.
CREATE TABLE reservations (
    order_id        UUID PRIMARY KEY,
    status          TEXT NOT NULL CHECK (status IN ('reserved', 'committed', 'released', 'expired')),
    correlation_id  TEXT NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX reservations_expiring ON reservations (expires_at) WHERE status = 'reserved';

CREATE TABLE reservation_lines (
    order_id          UUID NOT NULL REFERENCES reservations (order_id),
    sku               TEXT NOT NULL REFERENCES products (sku),
    quantity          INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_minor  BIGINT NOT NULL,
    PRIMARY KEY (order_id, sku)
);
"#,
    "DROP TABLE reservation_lines; DROP TABLE reservations; DROP TABLE products;"
);
