crate::sql_migration!(
    "m20261123_000001_restocks",
    r#"
-- Operator restocks, one row per Idempotency-Key: a retried restock finds its row and adds
-- nothing; the key's first request is what it replays. initial_stock grows with every
-- restock, so "available + reserved + sold = initial_stock" still holds.
CREATE TABLE restocks (
    idempotency_key  TEXT PRIMARY KEY,
    sku              TEXT NOT NULL REFERENCES products (sku),
    quantity         INT NOT NULL CHECK (quantity > 0),
    correlation_id   TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
"#,
    "DROP TABLE restocks;"
);
