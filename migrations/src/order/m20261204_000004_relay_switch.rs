crate::sql_migration!(
    "m20261204_000004_relay_switch",
    r#"
-- The outbox relay's pause switch (the demo's "broker down", shared/messaging/src/outbox.rs),
-- in the database next to the outbox: every instance of the order service runs a relay,
-- and a switch held in one process would pause one relay of two while the other kept
-- publishing. One row; each relay's claim of a batch reads it in the same statement.
CREATE TABLE outbox_relay (
    singleton   BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    paused      BOOLEAN NOT NULL DEFAULT FALSE,
    changed_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO outbox_relay DEFAULT VALUES;
"#,
    "DROP TABLE outbox_relay;"
);
