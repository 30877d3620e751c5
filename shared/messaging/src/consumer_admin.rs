//! Operator and journey endpoints every consuming service shares:
//! - `GET  /admin/consumers`: each consumer, its queue and whether it is paused;
//! - `POST /admin/consumers/{name}/pause` and `/resume`: the ops page's switch (and a way
//!   to watch a queue fill up and its oldest-message age grow, on purpose);
//! - `GET  /processed-events?aggregate_id=`: which events this service applied for an
//!   entity, and when (the order journey reads it).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use platform_http::{Admin, ApiError};
use sea_orm::{DatabaseConnection, FromQueryResult, raw_sql};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ConsumerHandle;

#[derive(Clone)]
struct Consumers(Vec<ConsumerHandle>);

#[derive(Clone)]
struct Db(DatabaseConnection);

pub fn routes(
    db: DatabaseConnection,
    consumers: Vec<ConsumerHandle>,
) -> impl Fn(&mut web::ServiceConfig) + Clone {
    move |cfg| {
        cfg.app_data(web::Data::new(Consumers(consumers.clone())))
            .app_data(web::Data::new(Db(db.clone())))
            .route("/admin/consumers", web::get().to(list))
            .route("/admin/consumers/{name}/pause", web::post().to(pause))
            .route("/admin/consumers/{name}/resume", web::post().to(resume))
            .route("/processed-events", web::get().to(processed));
    }
}

fn describe(handles: &[ConsumerHandle]) -> serde_json::Value {
    serde_json::json!(
        handles
            .iter()
            .map(
                |h| serde_json::json!({ "name": h.spec.name, "queue": h.spec.queue, "paused": h.is_paused() })
            )
            .collect::<Vec<_>>()
    )
}

async fn list(_: Admin, consumers: web::Data<Consumers>) -> HttpResponse {
    HttpResponse::Ok().json(describe(&consumers.0))
}

fn find<'a>(consumers: &'a Consumers, name: &str) -> Result<&'a ConsumerHandle, ApiError> {
    consumers
        .0
        .iter()
        .find(|h| h.spec.name == name)
        .ok_or_else(|| ApiError::not_found("unknown_consumer", format!("no consumer named {name:?}")))
}

async fn pause(
    _: Admin,
    consumers: web::Data<Consumers>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    find(&consumers, &name)?.pause();
    tracing::warn!(consumer = %name, "consumer paused by an operator");
    Ok(HttpResponse::Ok().json(describe(&consumers.0)))
}

async fn resume(
    _: Admin,
    consumers: web::Data<Consumers>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    find(&consumers, &name)?.resume();
    tracing::warn!(consumer = %name, "consumer resumed by an operator");
    Ok(HttpResponse::Ok().json(describe(&consumers.0)))
}

#[derive(Debug, Deserialize)]
struct Query {
    aggregate_id: String,
}

#[derive(Debug, Serialize, FromQueryResult)]
struct Processed {
    consumer: String,
    event_id: Uuid,
    event_type: String,
    correlation_id: String,
    occurred_at: DateTime<Utc>,
    processed_at: DateTime<Utc>,
}

async fn processed(db: web::Data<Db>, query: web::Query<Query>) -> Result<HttpResponse, ApiError> {
    let aggregate = query.aggregate_id.as_str();
    let rows = Processed::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT consumer, event_id, event_type, correlation_id, occurred_at, processed_at
           FROM processed_events WHERE aggregate_id = {aggregate} ORDER BY processed_at"#
    ))
    .all(&db.0)
    .await
    .map_err(platform_db::api_error)?;
    Ok(HttpResponse::Ok().json(rows))
}
