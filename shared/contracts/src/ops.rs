//! The operator's HTTP answers: queue statistics, alerts and the outbox (the order service),
//! the relay switch, dead letters and consumers (shared/messaging, on every consuming
//! service), fault switches and readiness (shared/http, on every service). Served with these
//! types and read by the storefront's control room and status page with them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::state::states;

states! {
    /// What a queue is for, told by its name (see shared/messaging's topology).
    pub enum QueueRole {
        /// A consumer's queue.
        Main => "main",
        /// A retry level: messages wait there for their next attempt.
        Retry => "retry",
        /// A consumer's dead-letter queue.
        DeadLetter => "dead_letter",
    }
}

/// One queue of the vhost, as the queue monitor last sampled it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueStats {
    pub name: String,
    pub role: QueueRole,
    pub messages: u64,
    pub ready: u64,
    pub unacked: u64,
    pub consumers: u64,
    pub publish_rate: f64,
    pub deliver_rate: f64,
    pub ack_rate: f64,
    /// Seconds since the message at the head of the queue was created (None when empty).
    pub oldest_age_secs: Option<f64>,
}

pub const QUEUES_PATH: &str = "/ops/queues";

/// `GET /ops/queues`: the queue monitor's latest sample.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QueueSnapshot {
    pub sampled_at: Option<DateTime<Utc>>,
    /// Why the last sample failed (the management API did not answer), if it did.
    pub error: Option<String>,
    pub queues: Vec<QueueStats>,
}

states! {
    /// How urgent an alert is.
    pub enum Severity {
        /// Wake someone.
        Page => "page",
        /// Look during office hours.
        Ticket => "ticket",
    }
}

/// An alert while it fires.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alert {
    pub name: String,
    pub severity: Severity,
    pub message: String,
    pub since: DateTime<Utc>,
}

/// The order service's alert thresholds (see its `Settings::from_env` for their variables).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Thresholds {
    /// Oldest message in a consumer queue older than this: the consumer is behind or gone.
    pub queue_oldest_secs: u64,
    /// More dead letters than this in any dead-letter queue.
    pub dead_letters_max: u64,
    /// Oldest unpublished outbox row older than this: the relay or the broker is stuck.
    pub outbox_oldest_secs: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            queue_oldest_secs: 300,
            dead_letters_max: 0,
            outbox_oldest_secs: 60,
        }
    }
}

pub const ALERTS_PATH: &str = "/ops/alerts";

/// `GET /ops/alerts`: what fires now, and the thresholds it fires at.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Alerts {
    pub active: Vec<Alert>,
    pub thresholds: Thresholds,
}

pub const OUTBOX_PATH: &str = "/ops/outbox";

/// `GET /ops/outbox`: the order service's outbox, as last sampled.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "db", derive(sea_orm::FromQueryResult))]
pub struct OutboxStats {
    /// Rows not yet published.
    pub backlog: i64,
    pub oldest_unpublished_secs: Option<f64>,
    pub published_last_minute: i64,
}

pub const RELAY_PATH: &str = "/admin/relay";

/// `GET /admin/relay`, and the answer to `POST /admin/relay/pause` and `/resume`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct RelayState {
    pub paused: bool,
}

pub const DEAD_LETTERS_PATH: &str = "/admin/dead-letters";

/// A message in a consumer's dead-letter queue (`GET /admin/dead-letters` lists them). The
/// event's fields are its AMQP properties and headers, absent on a message that is not an
/// event envelope.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The consumer queue it was dead-lettered from (and is replayed to).
    pub queue: String,
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub correlation_id: Option<String>,
    pub reason: Option<String>,
    pub dead_lettered_at: Option<String>,
    pub retries: Option<String>,
    /// The message body as text, cut at 2,000 characters.
    pub body: String,
}

/// The answer to `POST /admin/dead-letters/replay`: the messages moved back to their queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Replayed {
    pub replayed: usize,
    pub messages: Vec<DeadLetter>,
}

pub const CONSUMERS_PATH: &str = "/admin/consumers";

/// A consumer of the service (`GET /admin/consumers` lists them; pause and resume answer the
/// list too). The switches are stored in the service's database: every instance obeys them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Consumer {
    pub name: String,
    pub queue: String,
    /// Paused by an operator. A pause the consumer decides itself (analytics' backpressure)
    /// is not this switch; `/ops/backpressure` shows it.
    pub paused: bool,
    /// The reader it reads events with.
    #[serde(default)]
    pub reader: ReaderMode,
}

states! {
    /// How a consumer reads events. `Tolerant` is the platform's reader: it ignores fields it
    /// does not know and upcasts old versions (`upcast`). `StrictV1` is the reader a consumer
    /// had before order.confirmed's money change, strict about it: it requires `total_minor`,
    /// whatever the event's version says. It exists for the "deploy a breaking change"
    /// scenario, which switches a consumer to it (`PUT /admin/consumers/{name}/reader`) to
    /// show what a strict reader of a renamed field does: every v2 event is dead-lettered.
    #[derive(Default)]
    pub enum ReaderMode {
        #[default]
        Tolerant => "tolerant",
        StrictV1 => "strict_v1",
    }
}

/// The body of `PUT /admin/consumers/{name}/reader`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReaderSwitch {
    pub mode: ReaderMode,
}

states! {
    /// What a fault switch does to its operation.
    pub enum FaultMode {
        /// Answer 429 with `Retry-After`.
        RateLimit => "rate_limit",
        /// Answer 500.
        Error => "error",
        /// Answer normally, after a delay.
        Delay => "delay",
        /// Answer 422: the request itself is refused (a provider's "cannot refund this
        /// card"), which retrying it unchanged will not fix; a human must look.
        Reject => "reject",
    }
}

/// A fault switch: the body of `PUT /admin/faults/{operation}`, and how it is listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    pub mode: FaultMode,
    /// Fire for this many calls, then switch off; absent means until cleared.
    #[serde(default)]
    pub remaining: Option<u32>,
    #[serde(default)]
    pub delay_ms: Option<u64>,
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
}

pub const FAULTS_PATH: &str = "/admin/faults";

/// `GET /admin/faults`: the switches that are on, by operation, and every operation this
/// service has a switch for.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FaultSwitches {
    pub operations: Vec<String>,
    pub faults: BTreeMap<String, Fault>,
}

states! {
    pub enum ReadinessStatus {
        Ready => "ready",
        /// Answered with 503: a dependency is down.
        Unavailable => "unavailable",
    }
}

pub const READY_PATH: &str = "/health/ready";

/// `GET /health/ready`: whether this instance should receive traffic, with each check's
/// result ("ok", or why not).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Readiness {
    pub status: ReadinessStatus,
    /// Every failing check with its reason, while unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub checks: BTreeMap<String, String>,
}

pub const REPLICA_PATH: &str = "/ops/replica";

/// `POST` on the order service (admin): the demo's "replica lags" switch, a real pause of
/// the replica's WAL replay.
pub const REPLICA_LAG_PATH: &str = "/admin/replica/lag";

/// `POST` on any service (admin): the demo's "replica down" switch. The service, every
/// instance of it, treats its replica as unreachable, as a replica server that is down would
/// make it (the test cuts a real connection; a demo cannot stop a database server from a
/// browser). The switch is stored in the service's database, where every instance reads it.
pub const REPLICA_DOWN_PATH: &str = "/admin/replica/down";

/// `POST` on the order service (admin): the demo's "database unavailable" switch, a real
/// outage of the order database (it refuses connections and its sessions are cut) for
/// the given seconds (a [`ReplicaSwitch`]-shaped body: `{"seconds": n}`).
pub const DATABASE_OUTAGE_PATH: &str = "/admin/database/outage";

/// How long a replica (or database outage) switch holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaSwitch {
    pub seconds: u64,
}

/// `GET /ops/replica` on every service: its read replica, as the service sees it. Not
/// usable (unreachable, or lagging past the threshold) means its tolerant reads go to the
/// primary: degraded, not down, so readiness stays green.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaStatus {
    /// A replica is configured (`DATABASE_REPLICA_URL`).
    pub configured: bool,
    pub usable: bool,
    /// WAL bytes the replica has not replayed yet.
    pub lag_bytes: u64,
    /// How far behind it is in time (0 when it has replayed everything).
    pub lag_millis: u64,
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;
    use serde_json::{Value, json};

    use super::*;

    /// The answer as the server wrote it before these types existed (its own structs, or a
    /// `json!`): it reads as a `T`, and a `T` writes it back the same.
    fn round_trip<T: Serialize + DeserializeOwned>(wire: Value) -> T {
        let read: T = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(serde_json::to_value(&read).unwrap(), wire);
        read
    }

    #[test]
    fn the_queue_snapshot_keeps_its_wire_format() {
        let wire = json!({
            "sampled_at": "2026-01-02T03:04:05.123456Z",
            "error": null,
            "queues": [{
                "name": "email.order-events.dlq",
                "role": "dead_letter",
                "messages": 2,
                "ready": 2,
                "unacked": 0,
                "consumers": 0,
                "publish_rate": 0.2,
                "deliver_rate": 0.0,
                "ack_rate": 0.0,
                "oldest_age_secs": 31.0,
            }],
        });
        let snapshot: QueueSnapshot = round_trip(wire);
        assert_eq!(snapshot.queues[0].role, QueueRole::DeadLetter);
    }

    #[test]
    fn the_alerts_keep_their_wire_format() {
        let alerts: Alerts = round_trip(json!({
            "active": [{
                "name": "outbox_stuck",
                "severity": "page",
                "message": "3 events unpublished, the oldest for 75 s: is the broker reachable?",
                "since": "2026-01-02T03:04:05.123456Z",
            }],
            "thresholds": { "queue_oldest_secs": 300, "dead_letters_max": 0, "outbox_oldest_secs": 60 },
        }));
        assert_eq!(alerts.active[0].severity, Severity::Page);
        assert_eq!(
            serde_json::to_value(Thresholds::default()).unwrap(),
            serde_json::to_value(&alerts.thresholds).unwrap()
        );
    }

    #[test]
    fn the_outbox_and_relay_keep_their_wire_format() {
        let outbox: OutboxStats =
            round_trip(json!({ "backlog": 3, "oldest_unpublished_secs": 75.5, "published_last_minute": 12 }));
        assert_eq!(outbox.oldest_unpublished_secs, Some(75.5));
        assert!(round_trip::<RelayState>(json!({ "paused": true })).paused);
    }

    #[test]
    fn dead_letters_and_their_replay_keep_their_wire_format() {
        let letter = json!({
            "queue": "email.order-events",
            "event_id": "poison-demo",
            "event_type": null,
            "correlation_id": null,
            "reason": "delivery limit reached",
            "dead_lettered_at": "2026-01-02T03:04:05+00:00",
            "retries": "3",
            "body": "{ this is not an event envelope",
        });
        let listed: Vec<DeadLetter> = round_trip(json!([letter]));
        assert_eq!(listed[0].event_type, None);
        let replayed: Replayed = round_trip(json!({ "replayed": 1, "messages": [letter] }));
        assert_eq!(replayed.replayed, replayed.messages.len());
    }

    #[test]
    fn consumers_keep_their_wire_format() {
        let consumers: Vec<Consumer> = round_trip(json!([
            { "name": "email", "queue": "email.order-events", "paused": false, "reader": "tolerant" },
            { "name": "analytics", "queue": "analytics.order-events", "paused": false, "reader": "strict_v1" },
        ]));
        assert_eq!(consumers[0].queue, "email.order-events");
        assert_eq!(consumers[1].reader, ReaderMode::StrictV1);
    }

    #[test]
    fn fault_switches_keep_their_wire_format() {
        let switches: FaultSwitches = round_trip(json!({
            "operations": ["authorize", "capture"],
            "faults": {
                "authorize": { "mode": "rate_limit", "remaining": 2, "delay_ms": null, "retry_after_secs": 1 },
            },
        }));
        assert_eq!(switches.faults["authorize"].mode, FaultMode::RateLimit);
        // A switch is turned on with only the fields it needs.
        let delay: Fault = serde_json::from_value(json!({ "mode": "delay", "delay_ms": 1500 })).unwrap();
        assert_eq!((delay.mode, delay.remaining), (FaultMode::Delay, None));
    }

    #[test]
    fn readiness_keeps_its_wire_format() {
        let ready: Readiness =
            round_trip(json!({ "status": "ready", "checks": { "broker": "ok", "database": "ok" } }));
        assert_eq!((ready.status, ready.reason), (ReadinessStatus::Ready, None));
        let down: Readiness = round_trip(json!({
            "status": "unavailable",
            "reason": "database: no answer within 2s",
            "checks": { "broker": "ok", "database": "no answer within 2s" },
        }));
        assert_eq!(down.status, ReadinessStatus::Unavailable);
    }
}
