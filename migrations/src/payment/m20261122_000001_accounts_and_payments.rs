crate::sql_migration!(
    "m20261122_000001_accounts_and_payments",
    r#"
-- Money is an integer number of minor units plus a currency, never a float.
-- A hold (authorization) moves money from balance to held; capture removes it from held;
-- void moves it back. The CHECKs make a double charge fail loudly instead of silently.
CREATE TABLE accounts (
    customer_id    TEXT PRIMARY KEY,
    balance_minor  BIGINT NOT NULL CHECK (balance_minor >= 0),
    held_minor     BIGINT NOT NULL DEFAULT 0 CHECK (held_minor >= 0),
    captured_minor BIGINT NOT NULL DEFAULT 0 CHECK (captured_minor >= 0),
    currency       CHAR(3) NOT NULL DEFAULT 'EUR',
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One payment per order: the order id is the idempotency key of authorize, capture, void
-- and refund. 'pending' means the provider call is in flight; a second authorize for the
-- same order sees it and never calls the provider again. A void that arrives before its
-- authorize (the authorize was slow) leaves a 'voided' row with amount 0, so the late
-- authorize finds it and charges nothing.
CREATE TABLE payments (
    order_id        UUID PRIMARY KEY,
    customer_id     TEXT NOT NULL,
    amount_minor    BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency        CHAR(3) NOT NULL,
    card_last4      TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'authorized', 'declined', 'captured', 'voided', 'refunded')),
    decline_code    TEXT,
    provider_ref    TEXT,
    correlation_id  TEXT NOT NULL,
    provider_calls  INTEGER NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX payments_by_customer ON payments (customer_id, created_at DESC);

INSERT INTO accounts (customer_id, balance_minor) VALUES
 ('alice', 100000000), ('bob', 100000000), ('carol', 5000), ('dave', 100000000);
"#,
    "DROP TABLE payments; DROP TABLE accounts;"
);
