//! The operator's switches of a consumer, its pause and its reader, kept in the service's
//! database (`consumer_switches`, one row per consumer name), not in the process: every
//! instance of the service consumes the same queue, so a pause held by the instance that was
//! asked would let the others go on consuming, and a reader switched on one would leave the
//! others reading with the old one.
//!
//! Each instance reads the rows of its consumers every [`REFRESH`] (a periodic pass; why
//! polling rather than LISTEN/NOTIFY: `platform_service::switches`) and applies them to its
//! own handles. The admin endpoints write the row and apply it here at once; `GET` reads the
//! rows, so it reports what is stored, whichever instance stored it. Until it has read them
//! once, a starting instance does not consume (`Pauses::unread`), so a restart does not
//! undo a pause. A pause the consumer decides itself (analytics' backpressure) is no switch:
//! it stays in the process (`ConsumerHandle::set_backpressure`).

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use platform_contracts::ops::ReaderMode;
use platform_service::{periodic, switches::REFRESH};
use sea_orm::{DatabaseConnection, DbErr, FromQueryResult, raw_sql};

use super::ConsumerHandle;

/// The switches of this process's consumers, and the pass that rereads them.
#[derive(Clone)]
pub struct Switches {
    db: DatabaseConnection,
    handles: Vec<ConsumerHandle>,
    /// The poll and the operator's writes take turns: a poll that read the rows just before
    /// a write through this instance would otherwise apply its older answer after the write,
    /// and undo the switch here until the next poll.
    turn: Arc<tokio::sync::Mutex<()>>,
    /// The last poll failed (logged once per outage, not four times a second).
    unreadable: Arc<AtomicBool>,
}

#[derive(FromQueryResult)]
struct Row {
    consumer: String,
    paused: bool,
    reader: String,
}

impl Row {
    fn reader(&self) -> ReaderMode {
        self.reader.parse().unwrap_or_default()
    }
}

impl Switches {
    /// The switches of `handles`, in `db` (the consumers' database); polled every
    /// [`REFRESH`], the first time at once. Stop the poll with `periodic::stop_hook`.
    pub fn start(
        db: DatabaseConnection,
        handles: Vec<ConsumerHandle>,
    ) -> (Self, actix::Addr<periodic::Periodic>) {
        let switches = Self {
            db,
            handles,
            turn: Arc::default(),
            unreadable: Arc::default(),
        };
        let poll = periodic::start("consumer-switches", REFRESH, switches.clone());
        poll.do_send(periodic::Wake);
        (switches, poll)
    }

    pub fn handles(&self) -> &[ConsumerHandle] {
        &self.handles
    }

    pub fn find(&self, name: &str) -> Option<&ConsumerHandle> {
        self.handles.iter().find(|h| h.spec.name == name)
    }

    /// Reads the stored switches of this process's consumers and applies them. A consumer
    /// without a row gets the defaults: consuming, tolerant reader.
    pub async fn refresh(&self) -> Result<(), DbErr> {
        let names: Vec<String> = self.handles.iter().map(|h| h.spec.name.to_string()).collect();
        let _turn = self.turn.lock().await;
        let rows = Row::find_by_statement(raw_sql!(
            Postgres,
            r#"SELECT consumer, paused, reader FROM consumer_switches WHERE consumer = ANY({names})"#
        ))
        .all(&self.db)
        .await?;
        for handle in &self.handles {
            match rows.iter().find(|r| r.consumer == handle.spec.name) {
                Some(row) => handle.apply_operator(row.paused, row.reader()),
                None => handle.apply_operator(false, ReaderMode::default()),
            }
        }
        Ok(())
    }

    /// The operator's pause or resume of `handle`, for every instance.
    pub async fn set_paused(&self, handle: &ConsumerHandle, paused: bool) -> Result<(), DbErr> {
        let consumer = handle.spec.name;
        self.write(
            handle,
            raw_sql!(
                Postgres,
                r#"INSERT INTO consumer_switches (consumer, paused) VALUES ({consumer}, {paused})
                   ON CONFLICT (consumer) DO UPDATE SET paused = EXCLUDED.paused, updated_at = now()
                   RETURNING consumer, paused, reader"#
            ),
        )
        .await
    }

    /// The operator's choice of `handle`'s reader, for every instance.
    pub async fn set_reader(&self, handle: &ConsumerHandle, mode: ReaderMode) -> Result<(), DbErr> {
        let (consumer, reader) = (handle.spec.name, mode.as_str());
        self.write(
            handle,
            raw_sql!(
                Postgres,
                r#"INSERT INTO consumer_switches (consumer, reader) VALUES ({consumer}, {reader})
                   ON CONFLICT (consumer) DO UPDATE SET reader = EXCLUDED.reader, updated_at = now()
                   RETURNING consumer, paused, reader"#
            ),
        )
        .await
    }

    /// Writes one switch of the row and applies the whole row as stored (the other switch
    /// may have been set through another instance) to this instance at once.
    async fn write(&self, handle: &ConsumerHandle, upsert: sea_orm::Statement) -> Result<(), DbErr> {
        let _turn = self.turn.lock().await;
        let row = Row::find_by_statement(upsert)
            .one(&self.db)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("consumer_switches row not returned".into()))?;
        handle.apply_operator(row.paused, row.reader());
        Ok(())
    }
}

impl periodic::Pass for Switches {
    async fn run_pass(&self) -> anyhow::Result<bool> {
        match self.refresh().await {
            Ok(()) => {
                if self.unreadable.swap(false, Ordering::Relaxed) {
                    tracing::info!("consumer switches readable again");
                }
            }
            // The consumers keep the switches they last read (and, if they never read them,
            // wait): they cannot apply an event without this database anyway.
            Err(e) => {
                if !self.unreadable.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "consumer switches unreadable; keeping the last ones read");
                }
            }
        }
        Ok(false)
    }
}
