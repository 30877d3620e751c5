//! The email HTTP API: what was sent (the demo's mailbox), as `platform_contracts::email`.

use actix_web::{HttpResponse, web};
use platform_contracts::email::Email;
use platform_db::reads::Tolerant;
use platform_http::ApiError;
use sea_orm::{FromQueryResult, raw_sql};
use serde::Deserialize;
use uuid::Uuid;

/// Both reads tolerate lag: the mailbox is a display, and the journey says "pending" until
/// the replica has the email.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/emails", web::get().to(list))
        .route("/emails/{id}", web::get().to(get));
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    order_id: Option<Uuid>,
    limit: Option<u32>,
}

async fn list(db: Tolerant, query: web::Query<ListQuery>) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50).min(500) as i64;
    let order_id = query.order_id;
    let emails = Email::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT id, order_id, kind, recipient, subject, body_text, body_html, status, attempts, last_error,
                  correlation_id, created_at, sent_at
           FROM emails WHERE ({order_id}::uuid IS NULL OR order_id = {order_id})
           ORDER BY created_at DESC LIMIT {limit}"#
    ))
    .all(&*db)
    .await
    .map_err(platform_db::api_error)?;
    Ok(HttpResponse::Ok().json(emails))
}

async fn get(db: Tolerant, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let email = Email::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT id, order_id, kind, recipient, subject, body_text, body_html, status, attempts, last_error,
                  correlation_id, created_at, sent_at
           FROM emails WHERE id = {id}"#
    ))
    .one(&*db)
    .await
    .map_err(platform_db::api_error)?
    .ok_or_else(|| ApiError::not_found("email_not_found", "no such email"))?;
    Ok(HttpResponse::Ok().json(email))
}
