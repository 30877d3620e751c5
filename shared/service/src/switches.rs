//! Operator switches live in the service's database, never in one process's memory: a
//! service runs as N instances behind a load balancer, an operator's call reaches one of
//! them, and a switch held there would be obeyed by one instance of N. Every instance keeps
//! a view of the switches it obeys, read again from the database at most [`REFRESH`] old; the
//! instance that was called writes the row and applies it to its own view at once.
//!
//! The switches kept this way, and where each is read:
//! - fault switches (`faults.rs`, `fault_switches`): reread when a call finds the view
//!   older than [`REFRESH`]; a firing is claimed in the database, so "the next N calls" is N
//!   across instances;
//! - a consumer's pause and reader (platform-messaging's `consumer/switches.rs`,
//!   `consumer_switches`): reread every [`REFRESH`] by a periodic pass, because a paused
//!   consumer makes no call that would notice a stale view;
//! - the relay's pause (`outbox_relay`) and the "replica down" switch (`replica_switch`):
//!   read inside the work they stop, the relay's claim and the replica's lag measurement.
//!
//! Why polling rather than LISTEN/NOTIFY: a notification reaches only a session that was
//! listening when it was sent, so an instance whose connection dropped (a database restart,
//! a failover, the pool replacing a connection) misses it and must read the table anyway to
//! catch up; the poll is that read, and it is all an operator's switch needs. LISTEN would
//! also hold one dedicated connection per instance outside its pool (a pooled connection is
//! handed to other queries between notifications), where connections are kept few on purpose.
//! A poll is one indexed read of a handful of rows four times a second per instance.

use std::time::Duration;

/// How stale a process's view of the operator switches may be: a switch set through one
/// instance takes effect on the others within this.
pub const REFRESH: Duration = Duration::from_millis(250);
