crate::sql_migration!(
    "m20261122_000001_emails",
    r#"
-- An email is recorded first and delivered later: the send is an external side effect
-- that cannot join a database transaction, so it is driven from this table.
CREATE TABLE emails (
    id              UUID PRIMARY KEY,
    order_id        UUID NOT NULL,
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    body_html       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT,
    correlation_id  TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at         TIMESTAMPTZ,
    -- exactly one email of each kind per order, whatever the broker redelivers
    UNIQUE (order_id, kind)
);
CREATE INDEX emails_due ON emails (next_attempt_at) WHERE status = 'queued';
CREATE INDEX emails_recent ON emails (created_at DESC);
"#,
    "DROP TABLE emails;"
);
