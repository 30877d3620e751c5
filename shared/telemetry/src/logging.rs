use std::sync::Once;

use tracing_bunyan_formatter::{BunyanFormattingLayer, JsonStorageLayer};
use tracing_subscriber::{EnvFilter, Registry, layer::SubscriberExt};

/// Installs the global subscriber: one JSON object per line on stdout.
///
/// The bunyan layer flattens the fields of every enclosing span into each line, so a line
/// logged deep inside a handler still carries the `correlation_id` recorded on the request's
/// root span: `grep <id>` over all services' logs returns the whole story of one checkout.
pub fn init(service: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let subscriber = Registry::default()
        .with(filter)
        .with(crate::otel::layer(service))
        .with(JsonStorageLayer)
        .with(BunyanFormattingLayer::new(service.to_string(), std::io::stdout));
    // A second init (tests start many services in one process) keeps the first subscriber.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Tests are quiet unless `TEST_LOG` is set, in which case they log like production.
pub fn init_for_tests() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            init("test");
        }
    });
}
