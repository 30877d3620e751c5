//! Watching a contract change: every time a consumer reads a field that is on its way out,
//! it is counted here, per event type and field, so that "is anyone still using
//! `total_minor`?" has an answer (a number, and when it last happened) before the field is
//! removed (docs/schema-evolution.md). Likewise every event of an old version that was
//! upcast (`upcast`): "may the v1 reader go?"
//!
//! The counts are per process, and each consuming service is one consumer, so the service
//! that serves them (`GET /ops/contracts`) and the `/metrics` it is scraped on say *which*
//! consumer still reads the old shape. `contract_old_field_reads_total{event_type, field}`
//! is the same count as a Prometheus counter, for a window longer than the process's life.

use std::{
    collections::BTreeMap,
    sync::{LazyLock, Mutex},
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A field on its way out, and how often this process read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OldFieldRead {
    pub event_type: String,
    pub field: String,
    pub count: u64,
    pub last_at: DateTime<Utc>,
}

/// Events of an old version this process upcast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Upcast {
    pub event_type: String,
    pub from_version: u32,
    pub count: u64,
    pub last_at: DateTime<Utc>,
}

/// key → (how many, the last one).
type Counts<K> = LazyLock<Mutex<BTreeMap<K, (u64, DateTime<Utc>)>>>;

static FIELDS: Counts<(&str, &str)> = LazyLock::new(Default::default);
static UPCASTS: Counts<(&str, u32)> = LazyLock::new(Default::default);

fn bump<K: Ord>(counts: &Counts<K>, key: K) {
    let mut counts = counts.lock().expect("contract counts poisoned");
    let entry = counts.entry(key).or_insert((0, Utc::now()));
    *entry = (entry.0 + 1, Utc::now());
}

/// Records that this process read `event_type`'s old `field` (it had no newer one to read).
pub fn old_field_read(event_type: &'static str, field: &'static str) {
    metrics::counter!("contract_old_field_reads_total", "event_type" => event_type, "field" => field)
        .increment(1);
    bump(&FIELDS, (event_type, field));
}

/// Records that this process upcast an `event_type` of `from_version`.
pub fn upcast(event_type: &'static str, from_version: u32) {
    metrics::counter!("contract_upcasts_total", "event_type" => event_type, "from_version" => from_version.to_string())
        .increment(1);
    bump(&UPCASTS, (event_type, from_version));
}

/// What this process has read of old fields since it started.
pub fn old_field_reads() -> Vec<OldFieldRead> {
    let counts = FIELDS.lock().expect("contract counts poisoned");
    counts
        .iter()
        .map(|(&(event_type, field), &(count, last_at))| OldFieldRead {
            event_type: event_type.to_string(),
            field: field.to_string(),
            count,
            last_at,
        })
        .collect()
}

/// The old-version events this process has upcast since it started.
pub fn upcasts() -> Vec<Upcast> {
    let counts = UPCASTS.lock().expect("contract counts poisoned");
    counts
        .iter()
        .map(|(&(event_type, from_version), &(count, last_at))| Upcast {
            event_type: event_type.to_string(),
            from_version,
            count,
            last_at,
        })
        .collect()
}

pub const CONTRACTS_PATH: &str = "/ops/contracts";

/// `GET /ops/contracts` on every service: the events it produces (at which version), the
/// ones it reads (the versions and fields it declares in `consumers`), and the old fields it
/// read since it started. The ops page's "Contracts" panel.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ContractUse {
    pub service: String,
    pub produces: Vec<Produced>,
    pub reads: Vec<ReadVersions>,
    pub old_field_reads: Vec<OldFieldRead>,
    #[serde(default)]
    pub upcasts: Vec<Upcast>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Produced {
    pub event_type: String,
    pub version: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadVersions {
    pub event_type: String,
    pub versions: Vec<u32>,
    pub fields: Vec<String>,
}

impl ContractUse {
    /// What `service` (a component name: "order", "email", ...) produces and reads.
    pub fn of(service: &str) -> Self {
        let produces = if service == crate::events::PRODUCER {
            crate::events::PRODUCED
                .iter()
                .map(|&(event_type, version)| Produced {
                    event_type: event_type.to_string(),
                    version,
                })
                .collect()
        } else {
            Vec::new()
        };
        let reads = crate::consumers::ALL
            .iter()
            .flat_map(|c| c.iter())
            .filter(|e| e.consumer == service)
            .map(|e| ReadVersions {
                event_type: e.event_type.to_string(),
                versions: e.versions.to_vec(),
                fields: e.fields.iter().map(|f| f.to_string()).collect(),
            })
            .collect();
        Self {
            service: service.to_string(),
            produces,
            reads,
            old_field_reads: old_field_reads(),
            upcasts: upcasts(),
        }
    }
}
