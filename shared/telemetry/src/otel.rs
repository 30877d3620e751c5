//! Optional distributed tracing: OpenTelemetry spans exported over OTLP (HTTP), off by
//! default, on when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (e.g. `http://127.0.0.1:4318`, a
//! Jaeger all-in-one).
//!
//! The W3C trace context travels with the work: in `traceparent` headers on every HTTP call
//! (incoming ones are picked up by tracing-actix-web), and through the outbox into the AMQP
//! headers of each event, so a consumer's span joins the checkout's trace even when it runs
//! minutes later. Correlation ids stay the primary tool (they need no collector); traces add
//! timings per hop.

use std::{collections::HashMap, sync::OnceLock};

use opentelemetry::{global, trace::TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing::{Span, Subscriber};
use tracing_opentelemetry::{OpenTelemetryLayer, OpenTelemetrySpanExt};
use tracing_subscriber::registry::LookupSpan;

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// The tracing layer that exports spans, if export is configured.
pub fn layer<S>(service: &str) -> Option<OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    // The propagator is set even without export: it costs nothing when spans carry no
    // OpenTelemetry context, and keeps injection and extraction code paths identical.
    global::set_text_map_propagator(TraceContextPropagator::new());
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|e| !e.trim().is_empty())?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()
        .map_err(|e| eprintln!("OTLP export disabled: {e}"))
        .ok()?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service.to_string()).build())
        .build();
    let tracer = provider.tracer(service.to_string());
    let _ = PROVIDER.set(provider);
    Some(tracing_opentelemetry::layer().with_tracer(tracer))
}

/// Flushes buffered spans (at shutdown).
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get() {
        let _ = provider.shutdown();
    }
}

/// The current span's trace context as headers (`traceparent`, `tracestate`); empty when
/// tracing export is off.
pub fn trace_headers() -> HashMap<String, String> {
    let context = Span::current().context();
    let mut headers = HashMap::new();
    global::get_text_map_propagator(|p| p.inject_context(&context, &mut headers));
    headers
}

/// Makes `span` part of the trace described by `headers` (from an AMQP message).
pub fn continue_trace(span: &Span, headers: &HashMap<String, String>) {
    if headers.contains_key("traceparent") {
        let parent = global::get_text_map_propagator(|p| p.extract(headers));
        let _ = span.set_parent(parent);
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TraceContextExt;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[test]
    fn trace_context_survives_a_hop_through_headers() {
        global::set_text_map_propagator(TraceContextPropagator::new());
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::Registry::default()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("t")));
        tracing::subscriber::with_default(subscriber, || {
            let checkout = tracing::info_span!("checkout");
            let _entered = checkout.enter();
            let headers = trace_headers();
            let traceparent = headers.get("traceparent").expect("a traceparent is injected");
            let trace_id = checkout.context().span().span_context().trace_id();
            assert!(traceparent.contains(&trace_id.to_string()), "{traceparent}");

            // The other side of the hop (a consumer, minutes later).
            let consume = tracing::info_span!("consume");
            continue_trace(&consume, &headers);
            assert_eq!(consume.context().span().span_context().trace_id(), trace_id);
        });
    }
}
