//! The life of a backend service, written once.
//!
//! Start-up: connect to the service's own database, apply its pending migrations, start
//! the broker connection keeper, serve HTTP with the shared middleware and health probes.
//! Shutdown (SIGTERM): stop accepting, drain in-flight requests, then close the broker
//! connection and the database pool, in that order.

pub mod faults;
pub mod periodic;
pub mod switches;

use actix::Addr;
use actix_web::web;
use futures_util::FutureExt;
use platform_broker::Broker;
use platform_config::{Component, ConfigError, ServiceSettings};
use platform_contracts::{
    evolution::{CONTRACTS_PATH, ContractUse},
    ops::{REPLICA_DOWN_PATH, REPLICA_PATH, ReplicaSwitch},
};
use platform_db::reads::{Reads, ReplicaPolicy};
use platform_http::{AdminToken, Application, CustomerKeys, KnownCallers, Probe, ShutdownHook};
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;

/// What a running service holds on to: its settings, database pool and broker handle.
#[derive(Clone)]
pub struct Infra {
    pub settings: ServiceSettings,
    /// The request path's pool: what a shopper's request waits on.
    pub db: DatabaseConnection,
    /// The pool for background work: event consumers, the outbox relay, sweepers,
    /// retries. A bulkhead when `DATABASE_BACKGROUND_POOL_SIZE` > 0: a burst of events then
    /// queues for its own connections and never takes the ones a checkout needs. Off (the
    /// same pool as `db`) by default, because measured on the 2-core machine where
    /// everything shares one PostgreSQL, the extra connections cost more than they saved:
    /// 118 → 94 checkouts/s (docs/benchmarks.md). Worth it when the database has cores to
    /// spare and background bursts are what slows the request path.
    pub background_db: DatabaseConnection,
    /// Which pool a read uses: the primary, or the replica for reads that tolerate lag
    /// (`platform_db::reads`).
    pub reads: Reads,
    /// Measures the replica's lag, when there is one.
    replica_watch: Option<Addr<periodic::Periodic>>,
    pub broker: Broker,
}

/// The replica's lag, measured every `interval` (see `Reads::measure`).
#[derive(Clone)]
struct ReplicaWatch(Reads);

impl periodic::Pass for ReplicaWatch {
    async fn run_pass(&self) -> anyhow::Result<bool> {
        self.0.measure().await?;
        Ok(false)
    }
}

impl Infra {
    /// Connects and migrates. Fails fast when the database is unreachable at start-up: a
    /// service that cannot apply its migrations must not serve a schema it does not know.
    /// The broker, on the other hand, may be down: the service starts, says "not ready",
    /// and connects when it can.
    pub async fn start<M: MigratorTrait>(settings: ServiceSettings) -> anyhow::Result<Self> {
        // Small on purpose. Five services share one PostgreSQL on two cores: measured under
        // load (docs/benchmarks.md), 20 connections each gave *less* throughput than 5,
        // because extra connections only queue inside the database, where a descheduled
        // backend keeps holding its row locks and everyone behind it waits longer.
        // Requests beyond the pool wait in the service, holding nothing.
        let pool_size = platform_config::parse("DATABASE_POOL_SIZE", 5u32)?;
        let db = platform_db::connect(&settings.database_url, pool_size).await?;
        platform_db::migrate::<M>(&db).await?;
        let background_db = match platform_config::parse("DATABASE_BACKGROUND_POOL_SIZE", 0u32)? {
            0 => db.clone(),
            size => platform_db::connect(&settings.database_url, size).await?,
        };
        let (reads, replica_watch) = match &settings.database_replica_url {
            None => (Reads::primary_only(db.clone()), None),
            Some(url) => {
                let replica = platform_db::connect_replica(url, pool_size).await?;
                let policy = ReplicaPolicy {
                    max_lag: settings.replica_max_lag,
                    interval: settings.replica_check_interval,
                };
                let reads = Reads::new(db.clone(), replica, policy);
                let watch = periodic::start("replica-lag", policy.interval, ReplicaWatch(reads.clone()));
                (reads, Some(watch))
            }
        };
        let broker = Broker::start(settings.amqp_url.clone(), settings.component().name());
        Ok(Self {
            settings,
            db,
            background_db,
            reads,
            replica_watch,
            broker,
        })
    }

    /// Serves HTTP with the health probes for the database and the broker, and registers
    /// the hooks that close them after the server drained.
    pub fn serve<F>(&self, extra_probes: Vec<Probe>, routes: F) -> std::io::Result<Application>
    where
        F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
    {
        let mut probes = vec![platform_db::probe(self.db.clone()), self.broker.probe()];
        probes.extend(extra_probes);
        let admin_token = AdminToken(self.settings.admin_token.clone());
        let callers = KnownCallers::new(&self.settings.service_callers);
        let customer_keys = CustomerKeys::new(&self.settings.customer_token_secret);
        let write_stamp = self.reads.write_stamp();
        let replica = self.reads.clone();
        let settings = self.settings.clone();
        let routes = move |cfg: &mut web::ServiceConfig| {
            cfg.app_data(web::Data::new(admin_token.clone()))
                .app_data(web::Data::new(callers.clone()))
                .app_data(web::Data::new(customer_keys.clone()))
                .app_data(web::Data::new(write_stamp.clone()))
                .app_data(web::Data::new(replica.clone()))
                .app_data(web::Data::new(settings.clone()))
                .route(REPLICA_PATH, web::get().to(replica_status))
                .route(REPLICA_DOWN_PATH, web::post().to(replica_down))
                .route(CONTRACTS_PATH, web::get().to(contract_use));
            routes(cfg);
        };
        let app = platform_http::serve(&self.settings.server, probes, routes)?;
        let broker = self.broker.clone();
        let pools = [self.db.clone(), self.background_db.clone()];
        let close_broker: ShutdownHook = Box::new(move || async move { broker.close().await }.boxed());
        let close_db: ShutdownHook = Box::new(move || {
            async move {
                for db in pools {
                    if let Err(e) = db.close().await {
                        tracing::warn!(error = %e, "closing a database pool failed");
                    }
                }
            }
            .boxed()
        });
        let app = app.on_shutdown(close_db).on_shutdown(close_broker);
        Ok(match &self.replica_watch {
            Some(watch) => app.on_shutdown(periodic::stop_hook(watch.clone())),
            None => app,
        })
    }
}

/// What every service's `main` does, in this order: logging, crash points (off unless
/// `CRASH_POINTS` is set: the chaos tests, see shared/runtime/src/crash.rs), its settings
/// from the environment, build (connect, migrate, start the actors, bind), and serve until
/// stopped (SIGTERM: graceful shutdown).
pub async fn main<S, Fut>(
    component: Component,
    settings: impl FnOnce(ServiceSettings) -> Result<S, ConfigError>,
    build: impl FnOnce(S) -> Fut,
) -> anyhow::Result<()>
where
    Fut: Future<Output = anyhow::Result<Application>>,
{
    platform_telemetry::init(&format!("{}-service", component.name()));
    platform_runtime::crash::init_from_env().map_err(anyhow::Error::msg)?;
    let settings = settings(ServiceSettings::from_env(component)?)?;
    build(settings).await?.run_until_stopped().await?;
    Ok(())
}

/// What this service produces and reads, and the old fields it still reads (the ops page's
/// "Contracts" panel; docs/schema-evolution.md).
async fn contract_use(settings: web::Data<ServiceSettings>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(ContractUse::of(settings.component().name()))
}

async fn replica_status(reads: web::Data<Reads>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(reads.status())
}

/// The demo's "replica down" switch (admin): this service, every instance of it, reads only
/// from the primary for the next `seconds` (1 to 300), as if its replica were unreachable. A
/// row every instance reads (`Reads::cut_off`): it plays a replica that is down, which no
/// instance could reach.
async fn replica_down(
    _: platform_http::Admin,
    reads: web::Data<Reads>,
    body: web::Json<ReplicaSwitch>,
) -> Result<actix_web::HttpResponse, platform_http::ApiError> {
    if !(1..=300).contains(&body.seconds) {
        return Err(platform_http::ApiError::bad_request(
            "invalid_request",
            "seconds must be between 1 and 300",
        ));
    }
    reads
        .cut_off(std::time::Duration::from_secs(body.seconds))
        .await
        .map_err(platform_db::api_error)?;
    Ok(actix_web::HttpResponse::Ok().json(reads.status()))
}
