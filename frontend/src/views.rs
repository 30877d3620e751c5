//! Page templates (askama escapes every value it renders into HTML: a product or customer
//! name containing markup shows as text, it is never interpreted) and small helpers.

use actix_web::{HttpResponse, http::StatusCode};
use askama::Template;
use serde_json::Value;

/// Renders a template into a response (a template error is our bug: a plain 500 page).
pub fn render(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain")
                .body("This page could not be shown.")
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub title: String,
    pub message: String,
}

/// A friendly error page: what went wrong, never a stack trace.
pub fn error(status: StatusCode, title: &str, message: impl Into<String>) -> HttpResponse {
    render(
        status,
        &ErrorPage {
            title: title.to_string(),
            message: message.into(),
        },
    )
}

pub async fn not_found() -> HttpResponse {
    error(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no page at this address.",
    )
}

pub fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", to.to_string()))
        .finish()
}
