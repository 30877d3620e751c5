//! Calls from the storefront to the services, and their answers read with the contract
//! types (`platform_contracts`): a field the service renamed is a compile error here, or,
//! from a service built from other sources, a clear error page, never an empty cell.

use std::{fmt, time::Duration};

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use platform_config::Component;
use platform_contracts::error::{ErrorBody, ErrorDetail};
use platform_telemetry::CorrelationId;
use serde::{Serialize, de::DeserializeOwned};

use crate::views;

#[derive(Clone)]
pub struct Backend {
    http: reqwest::Client,
    services: Vec<(Component, String)>,
    /// The shopper's last write (see [`Backend::reading_as`]), sent on every call.
    consistency: Option<String>,
    /// The signed-in customer's token (sign_in.rs), sent as the Bearer: the services take
    /// the customer from it, and show them their own orders, account and emails only.
    customer_token: Option<String>,
    /// The operator's admin token, when they signed in on the ops page: sent as
    /// `X-Admin-Token`, it lets them read any customer's records.
    admin_token: Option<String>,
}

/// What a call returned: the status and the body as it came (errors included: the services
/// answer errors in the shared error body, and the pages show their message).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// The consistency token a write's answer carried: keep it in the shopper's session.
    pub consistency: Option<String>,
    /// The service answered with the stored answer to an earlier request with the same
    /// Idempotency-Key (`Idempotent-Replayed: true`).
    pub replayed: bool,
    /// How long the service asked the client to wait before retrying (`Retry-After`).
    pub retry_after: Option<u64>,
    service: &'static str,
    path: String,
    body: Vec<u8>,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The answer read as `T`, whatever its status, or where it does not fit.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, BadAnswer> {
        let mut answer = serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(&mut answer).map_err(|e| BadAnswer {
            service: self.service,
            path: self.path.clone(),
            status: self.status,
            error: e.to_string(),
        })
    }

    /// A successful answer read as `T`; `None` when the service answered with an error, or
    /// did not answer (the page then shows [`Reply::message`]).
    pub fn json_if_ok<T: DeserializeOwned>(&self) -> Result<Option<T>, BadAnswer> {
        if self.ok() {
            self.json().map(Some)
        } else {
            Ok(None)
        }
    }

    /// The error the service answered with, in the shared error body.
    pub fn error(&self) -> Option<ErrorDetail> {
        self.json::<ErrorBody>().ok().map(|body| body.error)
    }

    /// The error message a service sent, for a friendly page.
    pub fn message(&self) -> String {
        self.error()
            .map(|e| e.message)
            .unwrap_or_else(|| format!("the service answered {}", self.status))
    }
}

/// What a page handler returns: the page, or the error page of an answer that did not fit.
pub type Page = Result<HttpResponse, BadAnswer>;

/// A successful answer that does not have the shape of its contract: the service and the
/// storefront disagree. As a handler's error it is a clear page (and a log line with the
/// field that did not fit).
#[derive(Debug)]
pub struct BadAnswer {
    service: &'static str,
    path: String,
    status: u16,
    error: String,
}

impl fmt::Display for BadAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} answered {} with {}, in a form this page cannot read: {}",
            self.service, self.path, self.status, self.error
        )
    }
}

impl ResponseError for BadAnswer {
    fn status_code(&self) -> StatusCode {
        StatusCode::BAD_GATEWAY
    }

    fn error_response(&self) -> HttpResponse {
        tracing::error!(
            service = self.service,
            path = %self.path,
            status = self.status,
            error = %self.error,
            "a service's answer does not fit its contract"
        );
        views::error(
            StatusCode::BAD_GATEWAY,
            "Unexpected answer",
            format!(
                "The {} service answered in a form this page cannot read ({}). Please try again later.",
                self.service, self.error
            ),
        )
    }
}

impl Backend {
    pub fn new(services: Vec<(Component, String)>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(3))
            .build()
            .expect("a plain HTTP client always builds");
        Self {
            http,
            services,
            consistency: None,
            customer_token: None,
            admin_token: None,
        }
    }

    /// This backend for the person making `req`: their calls carry who they are (the
    /// customer's token, the operator's admin token) and their reads the token of their
    /// last write, so they see it even while the replica lags (read-your-writes).
    pub fn reading_as(&self, req: &actix_web::HttpRequest) -> Backend {
        Backend {
            consistency: crate::session::consistency_token(req),
            customer_token: crate::session::customer_token(req),
            admin_token: crate::session::admin_token(req),
            ..self.clone()
        }
    }

    pub fn services(&self) -> &[(Component, String)] {
        &self.services
    }

    fn url(&self, component: Component, path: &str) -> String {
        let base = self
            .services
            .iter()
            .find(|(c, _)| *c == component)
            .map(|(_, u)| u.as_str())
            .unwrap_or("http://127.0.0.1:9");
        format!("{base}{path}")
    }

    /// A call to `component`, carrying the correlation id and the trace context; add what
    /// it needs ([`Call::admin`], [`Call::idempotency_key`], [`Call::json`]), then send it.
    pub fn request(
        &self,
        method: reqwest::Method,
        component: Component,
        path: &str,
        correlation: &CorrelationId,
    ) -> Call {
        let mut request =
            platform_telemetry::traced(self.http.request(method, self.url(component, path)), correlation);
        if let Some(token) = &self.consistency {
            request = request.header(platform_http::CONSISTENCY_HEADER, token);
        }
        if let Some(token) = &self.customer_token {
            request = request.bearer_auth(token);
        }
        if let Some(token) = &self.admin_token {
            request = request.header("X-Admin-Token", token);
        }
        Call {
            component,
            path: path.to_string(),
            request,
        }
    }

    pub async fn get(&self, component: Component, path: &str, correlation: &CorrelationId) -> Reply {
        self.request(reqwest::Method::GET, component, path, correlation)
            .send()
            .await
    }
}

/// A call being put together (see [`Backend::request`]).
pub struct Call {
    component: Component,
    path: String,
    request: reqwest::RequestBuilder,
}

impl Call {
    /// The admin token the operator entered, forwarded: the service checks it, the
    /// storefront never holds one of its own.
    pub fn admin(self, token: Option<&str>) -> Self {
        match token {
            Some(token) => Self {
                request: self.request.header("X-Admin-Token", token),
                ..self
            },
            None => self,
        }
    }

    /// As this signed-in customer (their token from the order service's sign-in).
    pub fn customer(self, token: &str) -> Self {
        Self {
            request: self.request.bearer_auth(token),
            ..self
        }
    }

    /// A read that must see the write this token came from (read-your-writes).
    pub fn after_write(self, token: Option<&str>) -> Self {
        match token {
            Some(token) => Self {
                request: self.request.header(platform_http::CONSISTENCY_HEADER, token),
                ..self
            },
            None => self,
        }
    }

    /// The key that makes a retry of this POST do nothing twice.
    pub fn idempotency_key(self, key: &str) -> Self {
        Self {
            request: self.request.header("Idempotency-Key", key),
            ..self
        }
    }

    pub fn json(self, body: &impl Serialize) -> Self {
        Self {
            request: self.request.json(body),
            ..self
        }
    }

    pub async fn send(self) -> Reply {
        let (status, consistency, replayed, retry_after, body) = match self.request.send().await {
            Ok(res) => (
                res.status().as_u16(),
                res.headers()
                    .get(platform_http::CONSISTENCY_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(String::from),
                res.headers()
                    .get("idempotent-replayed")
                    .is_some_and(|v| v == "true"),
                res.headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()?.parse().ok()),
                res.bytes().await.map(|b| b.to_vec()).unwrap_or_default(),
            ),
            Err(e) => (503, None, false, None, unreachable(self.component, &e)),
        };
        Reply {
            status,
            consistency,
            replayed,
            retry_after,
            service: self.component.name(),
            path: self.path,
            body,
        }
    }
}

/// The answer a service that did not answer would have given, in the shared error body.
fn unreachable(component: Component, e: &reqwest::Error) -> Vec<u8> {
    let body = ErrorBody {
        error: ErrorDetail {
            code: "unreachable".into(),
            message: format!("{} is unreachable: {e}", component.name()),
            details: None,
        },
    };
    serde_json::to_vec(&body).expect("an error body always serializes")
}

#[cfg(test)]
mod tests {
    use platform_contracts::inventory::Product;

    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            consistency: None,
            replayed: false,
            retry_after: None,
            service: "inventory",
            path: "/products".into(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn an_answer_that_does_not_fit_its_contract_names_the_field() {
        let bad = reply(200, r#"[{"sku": "mug", "name": "Mug"}]"#)
            .json_if_ok::<Vec<Product>>()
            .unwrap_err();
        assert!(bad.to_string().contains("[0]"), "{bad}");
        assert!(bad.to_string().contains("description"), "{bad}");
        assert_eq!(bad.status_code(), StatusCode::BAD_GATEWAY);
    }

    #[test]
    fn an_error_answer_is_no_answer_and_its_message_is_shown() {
        let refused = reply(
            503,
            r#"{"error": {"code": "db_unavailable", "message": "the database is down"}}"#,
        );
        assert!(refused.json_if_ok::<Vec<Product>>().unwrap().is_none());
        assert_eq!(refused.message(), "the database is down");
        assert_eq!(reply(502, "<html>").message(), "the service answered 502");
    }
}
