//! `GET /processed-events?aggregate_id=`: which events this service applied for an entity,
//! and when (the order journey reads it), from the deduplication records the consumer
//! writes with each effect; and their retention: `Purge` deletes records older than
//! `Tuning::processed_retention` (7 days unless `PROCESSED_EVENTS_RETENTION_SECS` says),
//! every `Tuning::purge_interval`, so the table does not grow for ever.
//!
//! The retention is the deduplication window: an event delivered again after its record was
//! purged would be applied twice. It must outlast anything that can redeliver: the broker's
//! redeliveries (seconds), the relay's republish after a crash (seconds), and a replay from a
//! dead-letter queue, the long one, which is why the default is a week and why dead letters
//! must be replayed within it (docs/observability.md).

use actix_web::{HttpResponse, web};
use platform_contracts::journey::ProcessedEvent;
use platform_http::ApiError;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, FromQueryResult, raw_sql};
use serde::Deserialize;

#[derive(Clone)]
struct Db(DatabaseConnection);

pub fn routes(db: DatabaseConnection) -> impl Fn(&mut web::ServiceConfig) + Clone {
    move |cfg| {
        cfg.app_data(web::Data::new(Db(db.clone())))
            .route("/processed-events", web::get().to(processed));
    }
}

#[derive(Debug, Deserialize)]
struct Query {
    aggregate_id: String,
}

async fn processed(db: web::Data<Db>, query: web::Query<Query>) -> Result<HttpResponse, ApiError> {
    let aggregate = query.aggregate_id.as_str();
    let rows = ProcessedEvent::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT consumer, event_id, event_type, correlation_id, occurred_at, processed_at
           FROM processed_events WHERE aggregate_id = {aggregate} ORDER BY processed_at"#
    ))
    .all(&db.0)
    .await
    .map_err(platform_db::api_error)?;
    Ok(HttpResponse::Ok().json(rows))
}

/// Rows deleted per statement: a purge never holds many row locks, nor runs long.
const PURGE_BATCH: i64 = 5_000;

/// Deletes deduplication records (and redelivery counts) older than `retention`, in
/// batches. Returns how many records it deleted.
pub async fn purge(db: &DatabaseConnection, retention: Duration) -> Result<u64, DbErr> {
    let secs = retention.as_secs() as i64;
    let mut purged = 0;
    loop {
        let deleted = db
            .execute_raw(raw_sql!(
                Postgres,
                r#"DELETE FROM processed_events WHERE ctid = ANY(ARRAY(
                       SELECT ctid FROM processed_events
                       WHERE processed_at < now() - {secs} * interval '1 second' LIMIT {PURGE_BATCH}))"#
            ))
            .await?
            .rows_affected();
        purged += deleted;
        if deleted < PURGE_BATCH as u64 {
            break;
        }
    }
    db.execute_raw(raw_sql!(
        Postgres,
        r#"DELETE FROM redeliveries WHERE last_at < now() - {secs} * interval '1 second'"#
    ))
    .await?;
    Ok(purged)
}

/// The periodic purge, one per consuming service.
#[derive(Clone)]
pub struct Purge {
    pub db: DatabaseConnection,
    pub retention: Duration,
}

impl platform_service::periodic::Pass for Purge {
    async fn run_pass(&self) -> anyhow::Result<bool> {
        let purged = purge(&self.db, self.retention).await?;
        if purged > 0 {
            metrics::counter!("processed_events_purged_total").increment(purged);
            tracing::info!(purged, "processed-event records past their retention deleted");
        }
        Ok(false)
    }
}
