//! Tables of the service life every service shares, messaging or not (shared/service,
//! shared/db): one definition, applied to each service's own database.

pub mod replica_switch {
    crate::sql_migration!(
        "m20261205_100007_replica_switch",
        r#"
-- The demo's "replica down" switch (POST /admin/replica/down, shared/db/src/reads.rs): until
-- `down_until`, the service treats its replica as unreachable. In the service's database
-- rather than in one process, because the switch plays a replica that is down, and a replica
-- that is down is down for every instance: held in the process that was asked, it moved one
-- instance's reads of N to the primary. One row; each instance's replica measurement reads
-- it, with the primary's WAL position, in the query it makes anyway.
CREATE TABLE replica_switch (
    singleton   BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    down_until  TIMESTAMPTZ NOT NULL,
    changed_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
"#,
        "DROP TABLE replica_switch;"
    );
}

pub use replica_switch::Migration as ReplicaSwitch;
