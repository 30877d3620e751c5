//! Telemetry: JSON log lines and correlation ids.
//!
//! A checkout touches five services. When it goes wrong, the only way to reassemble what
//! happened is one id that every log line, HTTP call, event and stored record carries:
//! the correlation id. It is born at the edge (the browser request, or the first service
//! that sees a request without one) and is never regenerated downstream.

mod correlation;
mod logging;
pub mod otel;
mod outgoing;

pub use correlation::{CORRELATION_HEADER, CorrelationId, CorrelationRootSpan, correlation_id};
pub use logging::{init, init_for_tests};
pub use outgoing::traced;
