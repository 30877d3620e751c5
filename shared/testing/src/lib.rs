//! Test support: every test gets its own PostgreSQL database and its own RabbitMQ vhost,
//! and starts the real services in-process on port 0.
//!
//! Isolation is what lets the integration tests run in parallel and stay deterministic:
//! no test ever sees another's orders, stock or messages. Resources are dropped when the
//! test ends, even when it panics.
//!
//! Where the servers are is read from the environment that `./dev test` exports:
//! `TEST_DATABASE_URL` (a role allowed to create databases), `TEST_AMQP_URL` and
//! `TEST_RABBITMQ_MANAGEMENT_URL` (a broker user allowed to create vhosts).

mod database;
pub mod events;
mod lifecycle;
mod process;
mod proxy;
mod replica;
mod service;
mod service_auth;
mod vhost;

pub use database::TestDatabase;
pub use lifecycle::check_service_lifecycle;
pub use process::{ServiceProcess, process_env};
pub use proxy::TcpProxy;
pub use replica::{TestReplica, replica_admin_url};
pub use service::{
    RunningService, TEST_ADMIN_TOKEN, TEST_CUSTOMER_TOKEN_SECRET, as_service, customer_token, free_port,
    server_settings, service_settings, spawn, test_service_callers, test_service_secret,
};
pub use service_auth::assert_only_the_owner_may_call;
pub use vhost::{TestVhost, management_url};

/// Runs a future to completion on a throw-away runtime in a plain thread. `Drop` cannot be
/// async, and the test's own runtime may be gone (or single-threaded and busy) by then.
pub(crate) fn block_on_side<F>(future: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let _ = std::thread::spawn(move || {
        match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt.block_on(future),
            Err(e) => eprintln!("test cleanup: cannot build a runtime: {e}"),
        }
    })
    .join();
}
