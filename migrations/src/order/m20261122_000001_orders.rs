crate::sql_migration!(
    "m20261122_000001_orders",
    r#"
-- The order service owns the outcome of every checkout. Non-terminal states:
--   pending         created; stock not (known to be) reserved yet
--   stock_reserved  stock held; payment not (known to be) authorized yet
-- Terminal states: confirmed; rejected (the request cannot succeed: out of stock, card
-- declined); cancelled (the system gave up, e.g. an outcome still unknown at the deadline).
-- A rejected or cancelled order may still have compensations running (see the
-- compensations table): the outcome is decided at once, the undo is durable work.
-- deadline_at bounds how long an order may stay non-terminal; the reconciler enforces it.
CREATE TABLE orders (
    id               UUID PRIMARY KEY,
    customer_id      TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'stock_reserved', 'confirmed', 'rejected', 'cancelled')),
    reason_code      TEXT,
    reason           TEXT,
    total_minor      BIGINT,
    currency         CHAR(3) NOT NULL DEFAULT 'EUR',
    -- a test card number of the simulated provider; a real system stores a gateway token
    payment_method   TEXT NOT NULL,
    correlation_id   TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    deadline_at      TIMESTAMPTZ NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX orders_by_customer ON orders (customer_id, created_at DESC);
-- The reconciler only ever scans the (few) non-terminal orders.
CREATE INDEX orders_in_flight ON orders (next_attempt_at)
    WHERE status IN ('pending', 'stock_reserved');

CREATE TABLE order_lines (
    order_id          UUID NOT NULL REFERENCES orders (id),
    sku               TEXT NOT NULL,
    quantity          INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_minor  BIGINT,
    PRIMARY KEY (order_id, sku)
);

-- Every step of every order, so "is this order done, and if not, who is working on it?"
-- has an answer without reading logs.
CREATE TABLE order_timeline (
    id              BIGSERIAL PRIMARY KEY,
    order_id        UUID NOT NULL REFERENCES orders (id),
    step            TEXT NOT NULL,
    outcome         TEXT NOT NULL,
    detail          TEXT,
    actor           TEXT NOT NULL,
    correlation_id  TEXT NOT NULL,
    at              TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX order_timeline_by_order ON order_timeline (order_id, id);

-- Idempotency keys, scoped per customer. The order id is recorded in the same transaction
-- that creates the order, so a retry can always be pointed at the order it created.
CREATE TABLE idempotency_keys (
    customer_id      TEXT NOT NULL,
    key              TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    order_id         UUID,
    response_status  SMALLINT,
    response_body    JSONB,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (customer_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- Compensations are durable work records, not in-memory retries: a crash or a deploy in
-- the middle of undoing an order must not forget the undo. One per (order, kind).
CREATE TABLE compensations (
    id               UUID PRIMARY KEY,
    order_id         UUID NOT NULL REFERENCES orders (id),
    kind             TEXT NOT NULL CHECK (kind IN ('release_reservation', 'void_authorization')),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'done', 'parked')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_until      TIMESTAMPTZ,
    last_error       TEXT,
    correlation_id   TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (order_id, kind)
);
CREATE INDEX compensations_due ON compensations (next_attempt_at) WHERE status = 'pending';
"#,
    "DROP TABLE compensations; DROP TABLE idempotency_keys; DROP TABLE order_timeline; DROP TABLE order_lines; DROP TABLE orders;"
);
