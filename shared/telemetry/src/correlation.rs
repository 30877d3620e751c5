use std::{
    fmt,
    future::{Ready, ready},
};

use actix_web::{
    Error, FromRequest, HttpMessage, HttpRequest,
    body::MessageBody,
    dev::{Payload, ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
};
use serde::{Deserialize, Serialize};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};

pub const CORRELATION_HEADER: HeaderName = HeaderName::from_static("x-correlation-id");

/// The id of one shopper action, carried across every hop.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CorrelationId(String);

impl CorrelationId {
    pub fn new() -> Self {
        // v7 ids sort by creation time, which makes log and database scans pleasant.
        Self(uuid::Uuid::now_v7().to_string())
    }

    /// Accepts an id from the outside world only if it is short and plain. The id ends up
    /// in log lines, headers and database rows, so a hostile value (newlines, 10 KB) must
    /// not get through: it is replaced, not trusted.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = !raw.is_empty()
            && raw.len() <= 128
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        ok.then(|| Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn from_headers(req: &HttpRequest) -> Option<Self> {
        req.headers()
            .get(CORRELATION_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(Self::parse)
    }
}

impl Default for CorrelationId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Middleware: makes sure every request has a correlation id (adopting the caller's,
/// or minting one), exposes it to handlers, and echoes it in the response so the caller
/// can quote it in a support ticket.
///
/// It must wrap *outside* `TracingLogger`, so the root span sees the final id.
pub async fn correlation_id(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = CorrelationId::from_headers(req.request()).unwrap_or_default();
    let value = HeaderValue::from_str(id.as_str()).expect("validated ids are valid header values");
    req.headers_mut().insert(CORRELATION_HEADER, value.clone());
    req.extensions_mut().insert(id);
    let mut res = next.call(req).await?;
    res.headers_mut().insert(CORRELATION_HEADER, value);
    Ok(res)
}

impl FromRequest for CorrelationId {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // The middleware normally put it in the extensions; fall back to the header (or a
        // fresh id) so a handler mounted without the middleware still gets one.
        let id = req
            .extensions()
            .get::<CorrelationId>()
            .cloned()
            .or_else(|| CorrelationId::from_headers(req))
            .unwrap_or_default();
        ready(Ok(id))
    }
}

/// Root span for every request, carrying `correlation_id` so that every log line emitted
/// while handling the request has it.
pub struct CorrelationRootSpan;

impl RootSpanBuilder for CorrelationRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let id = request
            .headers()
            .get(CORRELATION_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        tracing_actix_web::root_span!(request, correlation_id = %id)
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_ids_are_rejected() {
        assert!(CorrelationId::parse("abc-123_x.y:z").is_some());
        assert!(CorrelationId::parse("").is_none());
        assert!(CorrelationId::parse("a\nb").is_none());
        assert!(CorrelationId::parse("<script>").is_none());
        assert!(CorrelationId::parse(&"a".repeat(129)).is_none());
    }
}
