//! What every outgoing HTTP call carries: the correlation id of the work it is part of, and
//! the current trace context (when trace export is on). One function, used by every
//! caller, so that no hop between services loses either: a journey with one hop missing
//! its correlation id is a journey nobody can follow.

use crate::{CORRELATION_HEADER, CorrelationId};

/// `request` with the correlation id and the W3C trace context headers added.
pub fn traced(request: reqwest::RequestBuilder, correlation: &CorrelationId) -> reqwest::RequestBuilder {
    crate::otel::trace_headers().into_iter().fold(
        request.header(CORRELATION_HEADER.as_str(), correlation.as_str()),
        |request, (name, value)| request.header(name, value),
    )
}
