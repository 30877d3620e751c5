//! `GET /processed-events?aggregate_id=`: which events this service applied for an entity,
//! and when (the order journey reads it), from the deduplication records the consumer
//! writes with each effect.

use actix_web::{HttpResponse, web};
use platform_contracts::journey::ProcessedEvent;
use platform_http::ApiError;
use sea_orm::{DatabaseConnection, FromQueryResult, raw_sql};
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
