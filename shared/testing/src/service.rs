use std::time::Duration;

use actix_web::dev::ServerHandle;
use platform_config::{Component, HttpSettings, ServerSettings, ServiceSettings};
use platform_http::Application;

use crate::{TestDatabase, TestVhost};

pub const TEST_ADMIN_TOKEN: &str = "test-admin-token";

/// The secret customers' tokens are signed with under test (`CUSTOMER_TOKEN_SECRET`).
pub const TEST_CUSTOMER_TOKEN_SECRET: &str = "test-customer-token-secret";

/// A token for `customer_id`, as the order service's sign-in would issue it: what a test
/// sends as `Authorization: Bearer` to act as that customer.
pub fn customer_token(customer_id: &str) -> String {
    platform_http::CustomerKeys::new(TEST_CUSTOMER_TOKEN_SECRET)
        .issue(customer_id)
        .0
}

/// A service's own secret under test (`SERVICE_TOKEN`).
pub fn test_service_secret(component: Component) -> String {
    format!("test-service-secret-{}", component.name())
}

/// Every service knows every other one under test (`SERVICE_CALLERS`), so that a call from
/// the wrong one is a 403, as in `./dev`'s stack.
pub fn test_service_callers() -> Vec<(String, String)> {
    Component::SERVICES
        .iter()
        .chain([&Component::Frontend])
        .map(|c| {
            (
                c.name().to_string(),
                platform_http::service_auth::digest_hex(&test_service_secret(*c)),
            )
        })
        .collect()
}

/// The `Authorization` header a test sends to pass for `component` on an internal endpoint.
pub fn as_service(component: Component) -> (&'static str, String) {
    (
        "Authorization",
        platform_http::service_auth::credential(component.name(), &test_service_secret(component)),
    )
}

/// Settings for a service under test: port 0, its own database and vhost.
pub fn service_settings(component: Component, db: &TestDatabase, vhost: &TestVhost) -> ServiceSettings {
    platform_telemetry::init_for_tests();
    ServiceSettings {
        server: server_settings(component),
        database_url: db.url.clone(),
        // Off unless a test asks for it (`TestDatabase::replica_url`): a test that writes and
        // then reads without a consistency token would otherwise race the replica.
        database_replica_url: None,
        replica_max_lag: Duration::from_secs(5),
        replica_check_interval: Duration::from_millis(100),
        amqp_url: vhost.amqp_url.clone(),
        rabbitmq_management_url: crate::vhost::management_url(),
        admin_token: TEST_ADMIN_TOKEN.into(),
        service_token: test_service_secret(component),
        service_callers: test_service_callers(),
        customer_token_secret: TEST_CUSTOMER_TOKEN_SECRET.into(),
    }
}

/// Server settings for anything under test: port 0, short shutdown timeout.
pub fn server_settings(component: Component) -> ServerSettings {
    platform_telemetry::init_for_tests();
    ServerSettings {
        component,
        http: HttpSettings::ephemeral(),
        max_body_bytes: 64 * 1024,
        shutdown_timeout: Duration::from_secs(5),
    }
}

/// A port nothing listens on right now, for a service that others must know the address of
/// before it is built (inventory asks the order service about orders, and the order service
/// calls inventory: one of the two has to be given the other's port in advance).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("the kernel hands out a free port")
}

/// A service running in the test's actix System.
pub struct RunningService {
    pub address: String,
    pub port: u16,
    handle: ServerHandle,
    task: actix_web::rt::task::JoinHandle<std::io::Result<()>>,
}

/// Runs an application built by a service's `build` function in the background.
pub fn spawn(app: Application) -> RunningService {
    let port = app.port();
    let handle = app.handle();
    let task = actix_web::rt::spawn(app.run_until_stopped());
    RunningService {
        address: format!("http://127.0.0.1:{port}"),
        port,
        handle,
        task,
    }
}

impl RunningService {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Graceful stop, as on SIGTERM; returns once the shutdown hooks have run.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.task.await;
    }

    /// Polls `/health/ready` until it answers 200 (the broker connects asynchronously).
    pub async fn wait_ready(&self, within: Duration) {
        if let Err(why) = until_ready(&self.address, within, || None).await {
            panic!("{} {why}", self.address);
        }
    }
}

/// Polls `<address>/health/ready` until it answers 200, for at most `within`. `gone` says
/// why waiting is pointless (a process that exited); the error says why it was not ready.
pub(crate) async fn until_ready(
    address: &str,
    within: Duration,
    mut gone: impl FnMut() -> Option<String>,
) -> Result<(), String> {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Ok(res) = client.get(format!("{address}/health/ready")).send().await
            && res.status().is_success()
        {
            return Ok(());
        }
        if let Some(why) = gone() {
            return Err(why);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("not ready within {within:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
