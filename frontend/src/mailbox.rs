//! The mailbox: the emails the email service recorded and sent, newest first.

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use platform_config::Component;
use platform_telemetry::CorrelationId;

use crate::{
    backend::Backend,
    views::{render, s},
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

async fn mailbox(backend: web::Data<Backend>, correlation: CorrelationId) -> HttpResponse {
    let reply = backend
        .get(Component::Email, "/emails?limit=50", &correlation)
        .await;
    let emails = reply
        .body
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| EmailView {
            subject: s(&e["subject"]),
            recipient: s(&e["recipient"]),
            status: s(&e["status"]),
            order_id: s(&e["order_id"]),
            correlation_id: s(&e["correlation_id"]),
            sent_at: s(&e["sent_at"]).chars().take(19).collect(),
            body_text: s(&e["body_text"]),
            body_html: s(&e["body_html"]),
        })
        .collect();
    render(
        StatusCode::OK,
        &MailboxPage {
            emails,
            problem: (!reply.ok()).then(|| reply.message()),
        },
    )
}
