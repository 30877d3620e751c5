//! The email HTTP API: what was sent (the demo's mailbox), as `platform_contracts::email`.

use actix_web::{HttpResponse, web};
use platform_contracts::email::{Email, EmailStatus, RETRY_FAILED_PATH, RetriedEmails, recipient};
use platform_db::reads::{Reads, Tolerant};
use platform_http::{Admin, ApiError, Reader};
use sea_orm::{ConnectionTrait, FromQueryResult, raw_sql};
use serde::Deserialize;
use uuid::Uuid;

/// Both reads tolerate lag: the mailbox is a display, and the journey says "pending" until
/// the replica has the email.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/emails", web::get().to(list))
        .route("/emails/{id}", web::get().to(get))
        .route(RETRY_FAILED_PATH, web::post().to(retry_failed));
}

/// `POST /admin/emails/retry-failed` (admin): every email that ran out of attempts goes back
/// to the queue with a fresh budget, once the mail server is fixed: the ops page's button.
/// A failed email is never lost; it waits here, listed, for this. Safe to repeat: the
/// mailbox keeps one copy per Message-ID, and a sent email is not touched.
async fn retry_failed(_: Admin, reads: web::Data<Reads>) -> Result<HttpResponse, ApiError> {
    let retried = reads
        .primary()
        .execute_raw(raw_sql!(
            Postgres,
            r#"UPDATE emails SET status = 'queued', attempts = 0, next_attempt_at = now(),
                      last_error = 'retried by an operator after: ' || COALESCE(last_error, '')
               WHERE status = 'failed'"#
        ))
        .await
        .map_err(platform_db::api_error)?
        .rows_affected();
    tracing::warn!(retried, "failed emails queued again by an operator");
    Ok(HttpResponse::Ok().json(RetriedEmails { retried }))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    order_id: Option<Uuid>,
    status: Option<EmailStatus>,
    limit: Option<u32>,
}

/// The emails a reader may see: a customer their own, an operator (the mailbox of the
/// demo's mail provider, the ops page) and the order service (the journey) any.
async fn list(reader: Reader, db: Tolerant, query: web::Query<ListQuery>) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50).min(500) as i64;
    let order_id = query.order_id;
    let status = query.status.map(|s| s.as_str());
    let recipient = reader.scope(None)?.map(recipient);
    let emails = Email::find_by_statement(raw_sql!(
        Postgres,
        r#"SELECT id, order_id, kind, recipient, subject, body_text, body_html, status, attempts, last_error,
                  correlation_id, created_at, sent_at
           FROM emails WHERE ({order_id}::uuid IS NULL OR order_id = {order_id})
                            AND ({status}::text IS NULL OR status = {status})
                            AND ({recipient}::text IS NULL OR recipient = {recipient})
           ORDER BY created_at DESC LIMIT {limit}"#
    ))
    .all(&*db)
    .await
    .map_err(platform_db::api_error)?;
    Ok(HttpResponse::Ok().json(emails))
}

async fn get(reader: Reader, db: Tolerant, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
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
    .filter(|e| match &reader {
        Reader::Customer(id) => e.recipient == recipient(id),
        Reader::Operator | Reader::OrderService => true,
    })
    .ok_or_else(|| ApiError::not_found("email_not_found", "no such email"))?;
    Ok(HttpResponse::Ok().json(email))
}
