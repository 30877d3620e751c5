//! Tables of the messaging patterns, shared by every service that uses them: one
//! definition, applied to each service's own database.

pub mod outbox {
    crate::sql_migration!(
        "m20261122_100001_outbox",
        r#"
-- The transactional outbox. A service never writes its database and then publishes (the
-- publish can fail after the commit, or the process can die in between: a dual write).
-- It writes the business row and an outbox row in one transaction; the relay publishes
-- the outbox rows afterwards, at least once.
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    event_id        UUID NOT NULL UNIQUE,
    event_type      TEXT NOT NULL,
    aggregate_id    TEXT NOT NULL,
    correlation_id  TEXT NOT NULL,
    envelope        JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    published_at    TIMESTAMPTZ,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX outbox_by_aggregate ON outbox (aggregate_id);

-- Wake the relay as soon as a transaction with new rows commits (NOTIFY is delivered at
-- commit, never for a rolled-back transaction); the relay also polls, in case it missed one.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
"#,
        "DROP TRIGGER outbox_notify ON outbox; DROP FUNCTION outbox_notify(); DROP TABLE outbox;"
    );
}

pub mod processed_events {
    crate::sql_migration!(
        "m20261122_100002_processed_events",
        r#"
-- The idempotent consumer's memory. Delivery is at least once; the effect must happen
-- once. The consumer inserts (consumer, event_id) in the same transaction as the effect:
-- a redelivered event hits the primary key and is acknowledged without effect.
CREATE TABLE processed_events (
    consumer        TEXT NOT NULL,
    event_id        UUID NOT NULL,
    event_type      TEXT NOT NULL,
    aggregate_id    TEXT NOT NULL,
    correlation_id  TEXT NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    processed_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX processed_events_by_aggregate ON processed_events (aggregate_id);

-- Deliveries that were never acknowledged (the consumer crashed or was killed mid-way),
-- counted outside the effect's transaction so that a crash cannot roll the count back.
-- Past a limit the message is dead-lettered instead of crashing consumers forever.
CREATE TABLE redeliveries (
    consumer   TEXT NOT NULL,
    event_id   UUID NOT NULL,
    count      INTEGER NOT NULL,
    last_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
"#,
        "DROP TABLE redeliveries; DROP TABLE processed_events;"
    );
}

pub mod outbox_trace_context {
    crate::sql_migration!(
        "m20261123_100003_outbox_trace_context",
        r#"
-- Expand only: a new column with a default, so code that does not know it keeps working.
-- It holds the W3C trace context (traceparent, tracestate) of the transaction that wrote
-- the event, which the relay copies into the message headers.
ALTER TABLE outbox ADD COLUMN trace_context JSONB NOT NULL DEFAULT '{}'::jsonb;
"#,
        "ALTER TABLE outbox DROP COLUMN trace_context;"
    );
}

pub mod processed_events_retention {
    crate::sql_migration!(
        "m20261202_100004_processed_events_retention",
        r#"
-- The purge (shared/messaging/src/processed_events.rs) deletes records older than the
-- retention; without this index each pass would read the whole table. A plain CREATE INDEX
-- blocks writes while it builds: at this platform's sizes, milliseconds, bounded by the
-- lock_timeout (apply retries). On a table of hundreds of millions of rows it would be
-- built CONCURRENTLY, outside the migration's transaction.
SET LOCAL lock_timeout = '1s';
CREATE INDEX processed_events_by_age ON processed_events (processed_at);
CREATE INDEX redeliveries_by_age ON redeliveries (last_at);
"#,
        "DROP INDEX redeliveries_by_age; DROP INDEX processed_events_by_age;"
    );
}

pub mod fault_switches {
    crate::sql_migration!(
        "m20261204_100005_fault_switches",
        r#"
-- The demo's and the tests' fault switches (shared/service/src/faults.rs), in the service's
-- database rather than in one process: every instance of the service obeys the same
-- switches, and "the next N calls" counts down once across all of them.
CREATE TABLE fault_switches (
    operation         TEXT PRIMARY KEY,
    mode              TEXT NOT NULL CHECK (mode IN ('rate_limit', 'error', 'reject', 'delay')),
    remaining         INTEGER CHECK (remaining >= 0),
    delay_ms          BIGINT,
    retry_after_secs  BIGINT,
    set_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);
"#,
        "DROP TABLE fault_switches;"
    );
}

pub mod consumer_switches {
    crate::sql_migration!(
        "m20261205_100006_consumer_switches",
        r#"
-- The operator's switches of each consumer (shared/messaging/src/consumer/switches.rs): paused
-- or not, and the reader it reads events with. In the service's database rather than in one
-- process: every instance of the service consumes the same queue, and a pause held by one
-- of them would let the others go on consuming. Each instance reads the table every 250 ms
-- and applies it to its own consumer. No row means the defaults (consuming, tolerant).
CREATE TABLE consumer_switches (
    consumer    TEXT PRIMARY KEY,
    paused      BOOLEAN NOT NULL DEFAULT FALSE,
    reader      TEXT NOT NULL DEFAULT 'tolerant' CHECK (reader IN ('tolerant', 'strict_v1')),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
"#,
        "DROP TABLE consumer_switches;"
    );
}

pub use consumer_switches::Migration as ConsumerSwitches;
pub use fault_switches::Migration as FaultSwitches;
pub use outbox::Migration as Outbox;
pub use outbox_trace_context::Migration as OutboxTraceContext;
pub use processed_events::Migration as ProcessedEvents;
pub use processed_events_retention::Migration as ProcessedEventsRetention;
