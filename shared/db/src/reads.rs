//! Read/write splitting: which pool a read uses, and read-your-writes.
//!
//! A replica lags its primary: by milliseconds normally, by seconds or minutes in an
//! incident. Two failures follow if reads go there blindly:
//! - a shopper who refreshes right after paying does not see their order (it "disappeared");
//! - a decision made on a stale read (stock, a balance, an idempotency key) is wrong.
//!
//! So every read says what it needs ([`Reads::primary`] or [`Reads::tolerant`]), and a
//! tolerant read carries the caller's [`ConsistencyToken`]: the WAL position of their last
//! write, sent back to them in the `X-Consistency-Token` header of every write's answer. The
//! replica serves the read only if it has replayed that far and is healthy; otherwise the
//! primary does. Everyone else's reads may lag; a shopper always sees their own writes.
//! Anything inside a transaction, and every money or stock decision, uses the primary.

use std::{
    fmt,
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use platform_contracts::ops::ReplicaStatus;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

pub use platform_http::CONSISTENCY_HEADER;

/// A WAL position (`pg_lsn`), as PostgreSQL prints it: `16/B374D848`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Lsn(pub u64);

impl FromStr for Lsn {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (high, low) = s
            .split_once('/')
            .ok_or_else(|| format!("not a WAL position: {s:?}"))?;
        let part = |p: &str| u64::from_str_radix(p, 16).map_err(|_| format!("not a WAL position: {s:?}"));
        let (high, low) = (part(high)?, part(low)?);
        if high > u32::MAX as u64 || low > u32::MAX as u64 {
            return Err(format!("not a WAL position: {s:?}"));
        }
        Ok(Lsn((high << 32) | low))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// The caller's last write, if they sent one (`X-Consistency-Token`). A token that does not
/// parse is ignored rather than refused: the read then goes to the primary, which is
/// always fresh enough.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsistencyToken(pub Option<Lsn>);

impl ConsistencyToken {
    pub fn of(req: &HttpRequest) -> Self {
        let token = req
            .headers()
            .get(CONSISTENCY_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.parse::<Lsn>().ok());
        ConsistencyToken(match token {
            // Sent but unreadable: be safe, read from the primary.
            Some(None) => Some(Lsn(u64::MAX)),
            Some(Some(lsn)) => Some(lsn),
            None => None,
        })
    }
}

/// The pool for a read that tolerates lag, chosen for this request: the replica when it is
/// healthy and has replayed the caller's token, else the primary. A handler that takes it
/// says, in its signature, that its read may be served stale to anyone but the writer.
pub struct Tolerant(pub DatabaseConnection);

impl std::ops::Deref for Tolerant {
    type Target = DatabaseConnection;

    fn deref(&self) -> &DatabaseConnection {
        &self.0
    }
}

impl FromRequest for Tolerant {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let reads = req.app_data::<actix_web::web::Data<Reads>>().cloned();
        let token = ConsistencyToken::of(req);
        Box::pin(async move {
            let reads =
                reads.ok_or_else(|| actix_web::error::ErrorInternalServerError("no Reads registered"))?;
            Ok(Tolerant(reads.tolerant(token).await.clone()))
        })
    }
}

/// When the replica is too far behind to serve tolerant reads.
#[derive(Debug, Clone, Copy)]
pub struct ReplicaPolicy {
    pub max_lag: Duration,
    /// How often lag is measured.
    pub interval: Duration,
}

impl Default for ReplicaPolicy {
    fn default() -> Self {
        Self {
            max_lag: Duration::from_secs(5),
            interval: Duration::from_millis(500),
        }
    }
}

/// What the last measurement found. Shared by every clone of [`Reads`].
#[derive(Debug, Default)]
struct Health {
    /// Reachable and lagging less than the policy allows.
    usable: AtomicBool,
    /// The replica's replayed WAL position.
    replayed: AtomicU64,
    lag_bytes: AtomicU64,
    lag_millis: AtomicU64,
    /// The demo's "replica down" switch: treated as unreachable until then (unix ms). This
    /// process's copy of the `replica_switch` row, which every instance reads.
    cut_off_until_ms: AtomicU64,
    /// A measurement's read of the switch and the operator's write of it take turns: a
    /// read made just before a write through this instance would otherwise store its older
    /// answer after the write, and undo the switch here until the next measurement.
    switch_turn: tokio::sync::Mutex<()>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The two pools of a service, and the one decision of which a read uses.
#[derive(Clone)]
pub struct Reads {
    primary: DatabaseConnection,
    replica: Option<DatabaseConnection>,
    health: Arc<Health>,
    policy: ReplicaPolicy,
}

impl Reads {
    /// Reads from the primary only (no replica configured).
    pub fn primary_only(primary: DatabaseConnection) -> Self {
        Self {
            primary,
            replica: None,
            health: Arc::default(),
            policy: ReplicaPolicy::default(),
        }
    }

    pub fn new(primary: DatabaseConnection, replica: DatabaseConnection, policy: ReplicaPolicy) -> Self {
        Self {
            primary,
            replica: Some(replica),
            health: Arc::default(),
            policy,
        }
    }

    /// Must-be-fresh: idempotency, stock and money decisions, balances, anything that
    /// writes or runs in a transaction.
    pub fn primary(&self) -> &DatabaseConnection {
        &self.primary
    }

    /// Lag-tolerant: catalog, analytics, mailbox, order lists, journeys. The replica when it
    /// is healthy and has replayed the caller's last write; otherwise the primary.
    pub async fn tolerant(&self, token: ConsistencyToken) -> &DatabaseConnection {
        let Some(replica) = &self.replica else {
            return &self.primary;
        };
        if !self.health.usable.load(Ordering::Relaxed) {
            metrics::counter!("db_reads_total", "pool" => "primary", "why" => "replica_unusable")
                .increment(1);
            return &self.primary;
        }
        if let ConsistencyToken(Some(wanted)) = token
            && Lsn(self.health.replayed.load(Ordering::Relaxed)) < wanted
        {
            // The last measurement is older than the caller's write: ask the replica once
            // (a round trip), then give up on it for this read.
            match replayed(replica).await {
                Ok(Some(now)) if now >= wanted => {
                    self.health.replayed.fetch_max(now.0, Ordering::Relaxed);
                }
                _ => {
                    metrics::counter!("db_reads_total", "pool" => "primary", "why" => "not_replayed_yet")
                        .increment(1);
                    return &self.primary;
                }
            }
        }
        metrics::counter!("db_reads_total", "pool" => "replica", "why" => "tolerant").increment(1);
        replica
    }

    pub fn status(&self) -> ReplicaStatus {
        ReplicaStatus {
            configured: self.replica.is_some(),
            usable: self.health.usable.load(Ordering::Relaxed),
            lag_bytes: self.health.lag_bytes.load(Ordering::Relaxed),
            lag_millis: self.health.lag_millis.load(Ordering::Relaxed),
        }
    }

    /// Measures the replica's lag once: bytes behind the primary's current WAL position,
    /// and time (zero when it has replayed everything; otherwise since its last replayed
    /// transaction). Exports the figures; marks the replica unusable when it is unreachable
    /// or lags more than the policy allows, or while the "replica down" switch is on (read
    /// from the primary with its WAL position, in the same round trip).
    pub async fn measure(&self) -> Result<(), DbErr> {
        let Some(replica) = &self.replica else {
            return Ok(());
        };
        let result = async {
            let current = {
                let _turn = self.health.switch_turn.lock().await;
                let (current, down_for) = primary_position(&self.primary).await?;
                let until = if down_for.is_zero() { 0 } else { now_ms() + down_for.as_millis() as u64 };
                self.health.cut_off_until_ms.store(until, Ordering::Relaxed);
                current
            };
            if now_ms() < self.health.cut_off_until_ms.load(Ordering::Relaxed) {
                return Err(DbErr::Custom("cut off by the demo's replica-down switch".into()));
            }
            let row = replica
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT pg_last_wal_replay_lsn()::text AS replayed, \
                     COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000, 0)::bigint AS since_ms",
                ))
                .await?
                .ok_or_else(|| DbErr::Custom("no answer from the replica".into()))?;
            let replayed: Option<String> = row.try_get("", "replayed")?;
            let since_ms: i64 = row.try_get("", "since_ms")?;
            let replayed = replayed
                .and_then(|r| r.parse::<Lsn>().ok())
                .ok_or_else(|| DbErr::Custom("the replica reports no replay position (not a standby?)".into()))?;
            let lag_bytes = current.0.saturating_sub(replayed.0);
            // Caught up: no lag, however long ago the last transaction was (an idle primary
            // is not a lagging replica).
            let lag_millis = if lag_bytes == 0 { 0 } else { since_ms.max(0) as u64 };
            Ok::<_, DbErr>((replayed, lag_bytes, lag_millis))
        }
        .await;
        let usable = match result {
            Ok((replayed, lag_bytes, lag_millis)) => {
                self.health.replayed.fetch_max(replayed.0, Ordering::Relaxed);
                self.health.lag_bytes.store(lag_bytes, Ordering::Relaxed);
                self.health.lag_millis.store(lag_millis, Ordering::Relaxed);
                metrics::gauge!("db_replica_lag_bytes").set(lag_bytes as f64);
                metrics::gauge!("db_replica_lag_seconds").set(lag_millis as f64 / 1000.0);
                lag_millis <= self.policy.max_lag.as_millis() as u64
            }
            Err(e) => {
                tracing::debug!(error = %e, "replica unreachable");
                false
            }
        };
        // A cut-off that arrived while this measurement ran wins over its result (found by
        // the browser test of the "replica down" scenario: a measurement started just
        // before the switch marked the replica usable again right after it).
        let usable = usable && now_ms() >= self.health.cut_off_until_ms.load(Ordering::Relaxed);
        let was = self.health.usable.swap(usable, Ordering::Relaxed);
        metrics::gauge!("db_replica_usable").set(if usable { 1.0 } else { 0.0 });
        if was != usable {
            if usable {
                tracing::warn!(
                    alert = "replica_unusable",
                    "replica usable again: tolerant reads go to it"
                );
            } else {
                tracing::warn!(
                    alert = "replica_unusable",
                    "ALERT: replica unreachable or lagging more than {:?}: tolerant reads go to the primary",
                    self.policy.max_lag
                );
            }
        }
        Ok(())
    }

    pub fn interval(&self) -> Duration {
        self.policy.interval
    }

    /// The demo's "replica lags" switch: pauses WAL replay on the replica (for every
    /// database on it: it is one server) and resumes it after `duration`. The replica keeps
    /// receiving WAL meanwhile, so it catches up at once when replay resumes. Needs EXECUTE
    /// on `pg_wal_replay_pause`/`_resume`, which `./dev` grants to the order role only.
    pub async fn pause_replay(&self, duration: Duration) -> Result<(), DbErr> {
        let replica = self
            .replica
            .clone()
            .ok_or_else(|| DbErr::Custom("no replica is configured (DATABASE_REPLICA_URL)".into()))?;
        replica.execute_unprepared("SELECT pg_wal_replay_pause()").await?;
        tracing::warn!(seconds = duration.as_secs(), "replica replay paused (demo)");
        actix_web::rt::spawn(async move {
            actix_web::rt::time::sleep(duration).await;
            match replica.execute_unprepared("SELECT pg_wal_replay_resume()").await {
                Ok(_) => tracing::warn!("replica replay resumed (demo)"),
                Err(e) => {
                    tracing::error!(error = %e, "resuming the replica's replay failed; run SELECT pg_wal_replay_resume() on it")
                }
            }
        });
        Ok(())
    }

    /// The demo's "replica down" switch: this service, every instance of it, treats its
    /// replica as unreachable for `duration`. The switch plays a replica that is down, which
    /// is down for every instance, so it is a row in the service's database
    /// (`replica_switch`), not this process's memory: this instance applies it at once, the
    /// others at their next measurement (`measure` reads it). Set again, it runs for
    /// `duration` from then, shorter or longer.
    pub async fn cut_off(&self, duration: Duration) -> Result<(), DbErr> {
        let ms = duration.as_millis() as i64;
        let _turn = self.health.switch_turn.lock().await;
        self.primary
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO replica_switch (singleton, down_until) VALUES (TRUE, now() + $1 * interval '1 millisecond') \
                 ON CONFLICT (singleton) DO UPDATE SET down_until = EXCLUDED.down_until, changed_at = now()",
                [ms.into()],
            ))
            .await?;
        let until = now_ms() + duration.as_millis() as u64;
        self.health.cut_off_until_ms.store(until, Ordering::Relaxed);
        self.health.usable.store(false, Ordering::Relaxed);
        tracing::warn!(
            seconds = duration.as_secs(),
            "replica treated as unreachable by every instance (demo)"
        );
        Ok(())
    }

    /// The token for a write's answer: where the primary's WAL is after the commit.
    pub fn write_stamp(&self) -> platform_http::WriteStamp {
        let primary = self.primary.clone();
        platform_http::WriteStamp(Arc::new(move || {
            let primary = primary.clone();
            Box::pin(async move { current_lsn(&primary).await.ok().map(|l| l.to_string()) })
        }))
    }
}

/// The primary's current WAL position: after a commit, the token that proves "my write is
/// at least this far".
pub async fn current_lsn(db: &impl ConnectionTrait) -> Result<Lsn, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_current_wal_lsn()::text AS lsn",
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("no WAL position".into()))?;
    let lsn: String = row.try_get("", "lsn")?;
    lsn.parse().map_err(DbErr::Custom)
}

/// The primary's current WAL position and how much longer the "replica down" switch holds
/// (zero when it is off), in one round trip.
async fn primary_position(primary: &DatabaseConnection) -> Result<(Lsn, Duration), DbErr> {
    let row = primary
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_current_wal_lsn()::text AS lsn, \
             COALESCE((SELECT GREATEST(EXTRACT(EPOCH FROM down_until - now()) * 1000, 0)::bigint \
                       FROM replica_switch), 0) AS down_for_ms",
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("no WAL position".into()))?;
    let lsn: String = row.try_get("", "lsn")?;
    let down_for_ms: i64 = row.try_get("", "down_for_ms")?;
    Ok((
        lsn.parse().map_err(DbErr::Custom)?,
        Duration::from_millis(down_for_ms.max(0) as u64),
    ))
}

async fn replayed(replica: &DatabaseConnection) -> Result<Option<Lsn>, DbErr> {
    let row = replica
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_last_wal_replay_lsn()::text AS lsn",
        ))
        .await?;
    let lsn: Option<String> = match row {
        Some(row) => row.try_get("", "lsn")?,
        None => None,
    };
    Ok(lsn.and_then(|l| l.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wal_positions_read_and_print_as_postgres_does() {
        let lsn: Lsn = "16/B374D848".parse().unwrap();
        assert_eq!(lsn.0, (0x16 << 32) | 0xB374_D848);
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert!("0/0".parse::<Lsn>().unwrap() < lsn);
        assert!("16B374D848".parse::<Lsn>().is_err());
        assert!("1/G".parse::<Lsn>().is_err());
    }
}
