use std::net::TcpListener;

use actix_web::{App, HttpResponse, HttpServer, dev::Server, dev::ServerHandle, middleware, web};
use futures_util::future::BoxFuture;
use platform_config::ServerSettings;
use platform_telemetry::{CorrelationRootSpan, correlation_id};
use tracing_actix_web::TracingLogger;

use crate::{
    ApiError,
    extract::{json_config, path_config, query_config},
    health::{self, Probe, Probes},
};

/// Something to do after the HTTP server has drained: close a broker channel, stop an actor.
pub type ShutdownHook = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

/// A built, listening, not yet running service.
///
/// Built on port 0 in tests, so any number of instances run side by side.
pub struct Application {
    port: u16,
    server: Server,
    shutdown_hooks: Vec<ShutdownHook>,
}

impl Application {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Lets a test (or a supervisor) stop the server gracefully, as SIGTERM would.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Registers something to do after the server drained. Hooks run in reverse order of
    /// registration, like destructors: what was started last (a worker using the database)
    /// stops before what it depends on (the database pool).
    pub fn on_shutdown(mut self, hook: ShutdownHook) -> Self {
        self.shutdown_hooks.push(hook);
        self
    }

    /// Runs until SIGTERM/SIGINT (or [`ServerHandle::stop`]).
    ///
    /// Graceful shutdown order matters: first stop accepting connections and let in-flight
    /// requests finish (actix-web does this, bounded by the shutdown timeout), *then* close
    /// the broker and stop background actors. Doing it the other way round fails requests
    /// that were already accepted.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        tracing::info!("http server stopped; running shutdown hooks");
        for hook in self.shutdown_hooks.into_iter().rev() {
            hook().await;
        }
        platform_telemetry::otel::shutdown();
        tracing::info!("shutdown complete");
        result
    }
}

/// Binds the listener and builds the server with the middleware every service shares:
/// correlation ids, a request span, JSON errors for malformed input, health endpoints.
pub fn serve<F>(settings: &ServerSettings, probes: Vec<Probe>, routes: F) -> std::io::Result<Application>
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let listener = TcpListener::bind((settings.http.host.as_str(), settings.http.port))?;
    let port = listener.local_addr()?.port();
    let probes = Probes::new(probes);
    let component = settings.component.name();
    crate::metrics::install();
    let max_body = settings.max_body_bytes;
    let workers = std::env::var("HTTP_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(2);
    let server = HttpServer::new(move || {
        App::new()
            // Order: the last `wrap` runs first. The correlation id must exist before the
            // tracing root span is created, so the span can record it.
            // Innermost: the write has committed by the time it asks where the WAL is.
            .wrap(middleware::from_fn(crate::consistency::stamp_writes))
            .wrap(middleware::from_fn(crate::metrics::record_request))
            .wrap(TracingLogger::<CorrelationRootSpan>::new())
            .wrap(middleware::from_fn(correlation_id))
            .app_data(json_config(max_body))
            .app_data(path_config())
            .app_data(query_config())
            .app_data(web::Data::new(crate::metrics::ServiceName(component)))
            .configure(health::routes(probes.clone()))
            .configure(crate::metrics::routes)
            .configure(routes.clone())
            .default_service(web::to(not_found))
    })
    .workers(workers)
    .shutdown_timeout(settings.shutdown_timeout.as_secs())
    .listen(listener)?
    .run();
    tracing::info!(service = settings.component.name(), port, "listening");
    Ok(Application {
        port,
        server,
        shutdown_hooks: Vec::new(),
    })
}

async fn not_found() -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::not_found("no_route", "no such route"))
}
