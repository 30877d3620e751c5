//! What a consumer is and how hard it works: its name (the key of its deduplication
//! records), its queue and bindings, and the limits that keep a failure contained. The
//! prefetch bounds the messages in flight, and with them memory and database load; the
//! retry limit and delays bound how long a transient failure is retried, so one that never
//! clears ends in the dead-letter queue instead of circulating forever.

use std::time::Duration;

use crate::topology::QueueType;

#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// Name recorded in `processed_events` and logs, e.g. `inventory`.
    pub name: &'static str,
    /// The queue, e.g. `inventory.order-events`.
    pub queue: String,
    /// Event types (routing keys) it subscribes to.
    pub bindings: Vec<&'static str>,
    /// Unacknowledged messages in flight at once: bounds memory and database load.
    pub prefetch: u16,
    pub max_retries: u32,
    /// Delay before each retry level (the last one repeats).
    pub retry_delays: Vec<Duration>,
    /// Classic or quorum queues (`topology::QueueType`).
    pub queue_type: QueueType,
}

impl ConsumerSpec {
    pub fn new(name: &'static str, purpose: &str, bindings: Vec<&'static str>, tuning: &Tuning) -> Self {
        Self {
            name,
            queue: format!("{name}.{purpose}"),
            bindings,
            prefetch: tuning.prefetch,
            max_retries: tuning.max_retries,
            retry_delays: tuning.retry_delays.clone(),
            queue_type: tuning.queue_type,
        }
    }
}

/// How hard a consumer works and how patiently it retries; the same knobs for every
/// consuming service, read from `CONSUMER_PREFETCH`, `CONSUMER_MAX_RETRIES` and
/// `CONSUMER_RETRY_DELAYS_MS` (comma-separated, e.g. `1000,5000,30000`).
#[derive(Debug, Clone)]
pub struct Tuning {
    pub prefetch: u16,
    pub max_retries: u32,
    pub retry_delays: Vec<Duration>,
    /// How long deduplication records are kept (`processed_events.rs`: the window in which a
    /// redelivered or replayed event is recognised). `PROCESSED_EVENTS_RETENTION_SECS`.
    pub processed_retention: Duration,
    /// How often records past it are deleted. `PROCESSED_EVENTS_PURGE_INTERVAL_SECS`.
    pub purge_interval: Duration,
    /// `BROKER_QUEUE_TYPE`: `classic` (default, the single-node stack) or `quorum` (the HA
    /// stack: queues replicated across the broker's nodes, see `topology.rs`).
    pub queue_type: QueueType,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            prefetch: 32,
            max_retries: 5,
            retry_delays: vec![
                Duration::from_secs(1),
                Duration::from_secs(5),
                Duration::from_secs(30),
            ],
            processed_retention: Duration::from_secs(7 * 24 * 3600),
            purge_interval: Duration::from_secs(3600),
            queue_type: QueueType::Classic,
        }
    }
}

impl Tuning {
    pub fn from_env() -> Result<Self, platform_config::ConfigError> {
        let d = Self::default();
        let delays = platform_config::string("CONSUMER_RETRY_DELAYS_MS", "");
        let retry_delays = if delays.is_empty() {
            d.retry_delays
        } else {
            delays
                .split(',')
                .map(|ms| {
                    ms.trim()
                        .parse()
                        .map(Duration::from_millis)
                        .map_err(
                            |e: std::num::ParseIntError| platform_config::ConfigError::Invalid {
                                name: "CONSUMER_RETRY_DELAYS_MS".into(),
                                value: delays.clone(),
                                reason: e.to_string(),
                            },
                        )
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        Ok(Self {
            prefetch: platform_config::parse("CONSUMER_PREFETCH", d.prefetch)?,
            max_retries: platform_config::parse("CONSUMER_MAX_RETRIES", d.max_retries)?,
            retry_delays,
            processed_retention: Duration::from_secs(platform_config::parse(
                "PROCESSED_EVENTS_RETENTION_SECS",
                d.processed_retention.as_secs(),
            )?),
            purge_interval: Duration::from_secs(platform_config::parse(
                "PROCESSED_EVENTS_PURGE_INTERVAL_SECS",
                d.purge_interval.as_secs(),
            )?),
            queue_type: platform_config::parse("BROKER_QUEUE_TYPE", d.queue_type)?,
        })
    }

    /// Fast retries, for tests.
    pub fn quick() -> Self {
        Self {
            prefetch: 32,
            max_retries: 3,
            retry_delays: vec![Duration::from_millis(50), Duration::from_millis(100)],
            purge_interval: Duration::from_millis(200),
            ..Self::default()
        }
    }
}
