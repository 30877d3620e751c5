//! Page templates (askama escapes every value it renders into HTML: a product or customer
//! name containing markup shows as text, it is never interpreted) and small helpers.

use actix_web::{HttpResponse, cookie::Cookie, http::StatusCode};
use askama::Template;
use chrono::{DateTime, SecondsFormat, Utc};

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

/// Renders a page that carries a form, with the CSRF cookie a first visit gets.
pub fn render_form(page: &impl Template, csrf_cookie: Option<Cookie<'static>>) -> HttpResponse {
    let mut res = render(StatusCode::OK, page);
    if let Some(c) = csrf_cookie {
        let _ = res.add_cookie(&c);
    }
    res
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

/// A time as the pages show it: its RFC 3339 text, as the services send it, cut to `len`
/// characters (19: to the second; 23: to the millisecond).
pub fn time(t: &DateTime<Utc>, len: usize) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
        .chars()
        .take(len)
        .collect()
}

pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", to.to_string()))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pages used to cut the text the services sent; `time` cuts the same text.
    #[test]
    fn a_time_reads_as_the_services_wrote_it() {
        for text in ["2026-01-02T03:04:05.123456Z", "2026-01-02T03:04:05Z"] {
            let t: DateTime<Utc> = serde_json::from_value(serde_json::json!(text)).unwrap();
            let sent = serde_json::to_value(t).unwrap();
            let sent = sent.as_str().unwrap();
            assert_eq!(time(&t, 19), sent.chars().take(19).collect::<String>());
            assert_eq!(time(&t, 23), sent.chars().take(23).collect::<String>());
        }
    }
}
