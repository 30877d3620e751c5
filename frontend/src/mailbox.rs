//! The mailbox: the emails the email service recorded and sent, newest first.

use actix_web::{HttpRequest, http::StatusCode, web};
use askama::Template;
use platform_config::Component;
use platform_contracts::email::{EMAILS_PATH, Email};
use platform_telemetry::CorrelationId;

use crate::{
    backend::{Backend, Page},
    views::{render, time},
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/mailbox", web::get().to(mailbox));
}

pub struct EmailView {
    pub subject: String,
    pub recipient: String,
    pub status: String,
    pub order_id: String,
    pub correlation_id: String,
    pub sent_at: String,
    pub body_text: String,
    pub body_html: String,
}

#[derive(Template)]
#[template(path = "mailbox.html")]
struct MailboxPage {
    emails: Vec<EmailView>,
    problem: Option<String>,
}

/// The signed-in customer's emails; an operator's view (signed in on the ops page) is the
/// whole mail provider's.
async fn mailbox(req: HttpRequest, backend: web::Data<Backend>, correlation: CorrelationId) -> Page {
    let reply = backend
        .reading_as(&req)
        .get(Component::Email, &format!("{EMAILS_PATH}?limit=50"), &correlation)
        .await;
    let emails: Vec<Email> = reply.json_if_ok()?.unwrap_or_default();
    let emails = emails
        .into_iter()
        .map(|e| EmailView {
            status: e.status.to_string(),
            order_id: e.order_id.to_string(),
            sent_at: e.sent_at.map(|t| time(&t, 19)).unwrap_or_default(),
            subject: e.subject,
            recipient: e.recipient,
            correlation_id: e.correlation_id,
            body_text: e.body_text,
            body_html: e.body_html,
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &MailboxPage {
            emails,
            problem: (!reply.ok()).then(|| match reply.status {
                401 => "Sign in to see your emails.".to_string(),
                _ => reply.message(),
            }),
        },
    ))
}
