//! Starts the platform's five services in-process, each on its own fresh database, sharing
//! one fresh RabbitMQ vhost: the real critical path, isolated from every other test.
#![allow(dead_code, unused_imports)]

use std::time::Duration;

use platform_config::Component;
use platform_messaging::{Tuning, topology::QueueType};
use platform_testing::{
    RunningService, TEST_ADMIN_TOKEN, TestDatabase, TestVhost, customer_token, free_port, service_settings,
    spawn,
};
use reqwest::{Client, Response};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};

pub use payment_service::provider::{
    CARD_DECLINED, CARD_INSUFFICIENT_FUNDS, CARD_PROVIDER_ERROR, CARD_RATE_LIMITED, CARD_SUCCESS,
    CARD_TIMEOUT,
};

/// The whole platform: the critical path (order, inventory, payment) and the fan-out
/// consumers (email, analytics), on one vhost.
pub struct Checkout {
    pub order: RunningService,
    pub inventory: RunningService,
    pub payment: RunningService,
    pub email: RunningService,
    pub analytics: RunningService,
    pub order_db: TestDatabase,
    pub inventory_db: TestDatabase,
    pub payment_db: TestDatabase,
    pub email_db: TestDatabase,
    pub analytics_db: TestDatabase,
    pub vhost: TestVhost,
    pub http: Client,
    _mail_dir: std::path::PathBuf,
}

/// Knobs the tests turn; everything else is the production default.
pub struct Knobs {
    pub order_deadline: Duration,
    pub payment_timeout: Duration,
    pub provider_slow: Duration,
    pub compensation_max_attempts: i32,
    pub alert_queue_oldest_secs: u64,
    pub checkout_max_in_flight: usize,
    pub backpressure_max_depth: u64,
    pub reservation_ttl: Duration,
    /// The consumers' queues: classic (the single-node stack) or quorum (the HA stack).
    pub queue_type: QueueType,
    /// Password hashes at once: 2 (a 2-core machine's default) whatever the test machine has.
    pub password_hashing_slots: usize,
}

impl Default for Knobs {
    fn default() -> Self {
        Self {
            order_deadline: Duration::from_secs(30),
            payment_timeout: Duration::from_millis(700),
            provider_slow: Duration::from_millis(1_500),
            compensation_max_attempts: 8,
            alert_queue_oldest_secs: 300,
            checkout_max_in_flight: 256,
            backpressure_max_depth: 500,
            reservation_ttl: Duration::from_secs(15 * 60),
            queue_type: QueueType::Classic,
            password_hashing_slots: 2,
        }
    }
}

/// Everything but the order service: inventory, payment, email and analytics in-process, the
/// five databases and the vhost. The order service is started on `order_port`, in-process
/// ([`Checkout`]) or as a real process the crash-point tests can kill.
pub struct Backends {
    pub inventory: RunningService,
    pub payment: RunningService,
    pub email: RunningService,
    pub analytics: RunningService,
    pub order_db: TestDatabase,
    pub inventory_db: TestDatabase,
    pub payment_db: TestDatabase,
    pub email_db: TestDatabase,
    pub analytics_db: TestDatabase,
    pub vhost: TestVhost,
    pub order_port: u16,
    pub mail_dir: std::path::PathBuf,
}

impl Backends {
    pub async fn start(knobs: &Knobs) -> Self {
        let vhost = TestVhost::create("checkout").await;
        let (order_db, inventory_db, payment_db, email_db, analytics_db) = (
            TestDatabase::create("order").await,
            TestDatabase::create("inventory").await,
            TestDatabase::create("payment").await,
            TestDatabase::create("email").await,
            TestDatabase::create("analytics").await,
        );
        let mail_dir = std::env::temp_dir().join(format!("platform-mail-{}", email_db.name));
        // Inventory asks the order service what became of orders whose reservations ran
        // out of time, so it is told the order service's port before either is built.
        let order_port = free_port();
        let (inventory, payment, email, analytics) = Self::spawn_services(
            knobs,
            [&inventory_db, &payment_db, &email_db, &analytics_db],
            &vhost,
            &mail_dir,
            order_port,
        )
        .await;
        for s in [&inventory, &payment, &email, &analytics] {
            s.wait_ready(Duration::from_secs(15)).await;
        }
        Self {
            inventory,
            payment,
            email,
            analytics,
            order_db,
            inventory_db,
            payment_db,
            email_db,
            analytics_db,
            vhost,
            order_port,
            mail_dir,
        }
    }

    /// Inventory, payment, email and analytics against these databases and this vhost. Called
    /// again for a second instance of each (two instances share the databases and queues).
    pub async fn spawn_services(
        knobs: &Knobs,
        [inventory_db, payment_db, email_db, analytics_db]: [&TestDatabase; 4],
        vhost: &TestVhost,
        mail_dir: &std::path::Path,
        order_port: u16,
    ) -> (RunningService, RunningService, RunningService, RunningService) {
        let mut email_settings = email_service::Settings::new(
            service_settings(Component::Email, email_db, vhost),
            mail_dir.to_path_buf(),
        );
        email_settings.send_interval = Duration::from_millis(100);
        let tuning = Tuning {
            queue_type: knobs.queue_type,
            ..Tuning::quick()
        };
        email_settings.consumer = tuning.clone();
        let email = spawn(email_service::build(email_settings).await.expect("email builds"));
        let analytics = spawn(
            analytics_service::build(analytics_service::Settings {
                consumer: tuning.clone(),
                backpressure: analytics_service::backpressure::Policy {
                    max_depth: knobs.backpressure_max_depth,
                    ..Default::default()
                },
                backpressure_interval: Duration::from_millis(300),
                ..analytics_service::Settings::new(service_settings(
                    Component::Analytics,
                    analytics_db,
                    vhost,
                ))
            })
            .await
            .expect("analytics builds"),
        );
        let inventory = spawn(
            inventory_service::build(inventory_service::Settings {
                consumer: tuning.clone(),
                reservation_ttl: knobs.reservation_ttl,
                sweep_interval: Duration::from_millis(200),
                order_url: format!("http://127.0.0.1:{order_port}"),
                ..inventory_service::Settings::new(service_settings(
                    Component::Inventory,
                    inventory_db,
                    vhost,
                ))
            })
            .await
            .expect("inventory builds"),
        );
        let mut payment_settings =
            payment_service::Settings::new(service_settings(Component::Payment, payment_db, vhost));
        payment_settings.provider_slow = knobs.provider_slow;
        payment_settings.consumer = tuning;
        let payment = spawn(
            payment_service::build(payment_settings)
                .await
                .expect("payment builds"),
        );
        (inventory, payment, email, analytics)
    }

    /// The order service's settings against these backends: short intervals, so that
    /// retries, reconciliation and compensations happen within a test's patience.
    pub fn order_settings(&self, knobs: &Knobs) -> order_service::Settings {
        let (order_db, vhost, order_port) = (&self.order_db, &self.vhost, self.order_port);
        let (inventory, payment, email, analytics) =
            (&self.inventory, &self.payment, &self.email, &self.analytics);
        let mut order_service_settings = service_settings(Component::Order, order_db, vhost);
        order_service_settings.server.http.port = order_port;
        let mut settings = order_service::Settings::new(
            order_service_settings,
            inventory.address.clone(),
            payment.address.clone(),
        );
        settings.order_deadline = knobs.order_deadline;
        settings.payment_timeout = knobs.payment_timeout;
        settings.breaker_window = Duration::from_secs(3);
        settings.checkout_grace = Duration::from_millis(1_500);
        settings.reconciler_interval = Duration::from_millis(100);
        settings.retry_min = Duration::from_millis(100);
        settings.retry_max = Duration::from_millis(500);
        settings.compensation_interval = Duration::from_millis(100);
        settings.compensation.base_delay = Duration::from_millis(50);
        settings.compensation.max_delay = Duration::from_millis(300);
        settings.compensation.max_attempts = knobs.compensation_max_attempts;
        settings.heartbeat_interval = Duration::from_millis(500);
        settings.email_url = email.address.clone();
        settings.analytics_url = analytics.address.clone();
        settings.ops_interval = Duration::from_millis(300);
        settings.integrity_interval = Duration::from_millis(300);
        settings.integrity_settle = Duration::from_secs(2);
        settings.alert_thresholds.queue_oldest_secs = knobs.alert_queue_oldest_secs;
        settings.checkout_max_in_flight = knobs.checkout_max_in_flight;
        settings.password_hashing_slots = knobs.password_hashing_slots;
        settings
    }

    /// The same settings as environment variables, for the order service as a process
    /// (keep the two in step).
    pub fn order_env(&self, knobs: &Knobs) -> Vec<(String, String)> {
        let mut env =
            platform_testing::process_env(Component::Order, &self.order_db, &self.vhost, self.order_port);
        let ms = |d: Duration| d.as_millis().to_string();
        env.extend(
            [
                ("INVENTORY_URL", self.inventory.address.clone()),
                ("PAYMENT_URL", self.payment.address.clone()),
                ("EMAIL_URL", self.email.address.clone()),
                ("ANALYTICS_URL", self.analytics.address.clone()),
                ("ORDER_DEADLINE_SECS", knobs.order_deadline.as_secs().to_string()),
                ("PAYMENT_TIMEOUT_MS", ms(knobs.payment_timeout)),
                ("CIRCUIT_WINDOW_SECS", "3".into()),
                ("CHECKOUT_GRACE_MS", "1500".into()),
                ("RECONCILER_INTERVAL_MS", "100".into()),
                ("ORDER_RETRY_MIN_MS", "100".into()),
                ("ORDER_RETRY_MAX_MS", "500".into()),
                ("COMPENSATION_INTERVAL_MS", "100".into()),
                ("COMPENSATION_BASE_DELAY_MS", "50".into()),
                ("COMPENSATION_MAX_DELAY_MS", "300".into()),
                (
                    "COMPENSATION_MAX_ATTEMPTS",
                    knobs.compensation_max_attempts.to_string(),
                ),
                ("HEARTBEAT_INTERVAL_MS", "500".into()),
                ("OPS_SAMPLE_INTERVAL_MS", "300".into()),
                ("INTEGRITY_INTERVAL_MS", "300".into()),
                ("INTEGRITY_SETTLE_SECS", "2".into()),
                (
                    "ALERT_QUEUE_OLDEST_SECS",
                    knobs.alert_queue_oldest_secs.to_string(),
                ),
                ("CHECKOUT_MAX_IN_FLIGHT", knobs.checkout_max_in_flight.to_string()),
                ("PASSWORD_HASHING_SLOTS", knobs.password_hashing_slots.to_string()),
            ]
            .map(|(k, v)| (k.to_string(), v)),
        );
        env
    }

    pub async fn stop(self) {
        self.email.stop().await;
        self.analytics.stop().await;
        self.payment.stop().await;
        self.inventory.stop().await;
        let _ = std::fs::remove_dir_all(&self.mail_dir);
    }
}

impl Checkout {
    pub async fn start() -> Self {
        Self::start_with(Knobs::default()).await
    }

    pub async fn start_with(knobs: Knobs) -> Self {
        let b = Backends::start(&knobs).await;
        let order = spawn(
            order_service::build(b.order_settings(&knobs))
                .await
                .expect("order builds"),
        );
        order.wait_ready(Duration::from_secs(15)).await;
        Self {
            order,
            inventory: b.inventory,
            payment: b.payment,
            email: b.email,
            analytics: b.analytics,
            order_db: b.order_db,
            inventory_db: b.inventory_db,
            payment_db: b.payment_db,
            email_db: b.email_db,
            analytics_db: b.analytics_db,
            vhost: b.vhost,
            http: Client::new(),
            _mail_dir: b.mail_dir,
        }
    }

    /// A checkout by the customer the body names, signed in as them.
    pub async fn place(&self, key: &str, body: &Value) -> Response {
        let customer = body["customer_id"].as_str().unwrap_or("anonymous");
        self.http
            .post(self.order.url("/orders"))
            .header("Idempotency-Key", key)
            .bearer_auth(customer_token(customer))
            .json(body)
            .send()
            .await
            .expect("order service answers")
    }

    pub async fn get_order(&self, id: &str) -> Value {
        self.get(&self.order, &format!("/orders/{id}")).await
    }

    /// Polls the order until `done` says so, or panics after `within`.
    pub async fn wait_order(&self, id: &str, within: Duration, done: impl Fn(&Value) -> bool) -> Value {
        poll(within, id, || self.get_order(id), done).await
    }

    /// Polls a GET endpoint until `done` holds (fan-out is eventually consistent).
    pub async fn eventually(
        &self,
        service: &RunningService,
        path: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        poll(Duration::from_secs(20), path, || self.get(service, path), done).await
    }

    /// Polls an admin GET endpoint until `done` holds.
    pub async fn eventually_admin(
        &self,
        service: &RunningService,
        path: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        poll(
            Duration::from_secs(20),
            path,
            || self.admin_get(service, path),
            done,
        )
        .await
    }

    /// Polls the broker's report of a queue until `done` holds.
    pub async fn eventually_queue(&self, queue: &str, done: impl Fn(&Value) -> bool) -> Value {
        poll(Duration::from_secs(20), queue, || self.vhost.queue(queue), done).await
    }

    /// Waits until the broker reports a queue with nothing ready or unacknowledged.
    pub async fn eventually_queue_empty(&self, queue: &str) {
        self.eventually_queue(queue, |q| q["messages"] == 0).await;
    }

    /// Waits until every consumer's queue is empty, then a moment more for the last
    /// transactions to commit.
    pub async fn eventually_consumers_drained(&self) {
        for queue in [
            "inventory.order-events",
            "payment.order-events",
            "email.order-events",
            "analytics.order-events",
        ] {
            self.eventually_queue_empty(queue).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    /// Waits until the count `sql` reads from `db` is `expected`.
    pub async fn eventually_count(db: &TestDatabase, sql: &str, expected: i64) {
        poll(
            Duration::from_secs(20),
            sql,
            || async { json!(Self::count(db, sql).await) },
            |n| *n == expected,
        )
        .await;
    }

    pub async fn product(&self, sku: &str) -> Value {
        self.get(&self.inventory, &format!("/products/{sku}")).await
    }

    pub async fn admin_get(&self, service: &RunningService, path: &str) -> Value {
        self.http
            .get(service.url(path))
            .bearer_auth(TEST_ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn admin_post(&self, service: &RunningService, path: &str) -> Response {
        self.http
            .post(service.url(path))
            .bearer_auth(TEST_ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
    }

    /// Turns a fault switch on (inventory or payment).
    pub async fn fault(&self, service: &RunningService, operation: &str, fault: Value) {
        let res = self
            .http
            .put(service.url(&format!("/admin/faults/{operation}")))
            .bearer_auth(TEST_ADMIN_TOKEN)
            .json(&fault)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "fault switch: {}", res.status());
    }

    pub async fn clear_fault(&self, service: &RunningService, operation: &str) {
        self.http
            .delete(service.url(&format!("/admin/faults/{operation}")))
            .bearer_auth(TEST_ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
    }

    /// Reads a number straight from one service's database (for invariants).
    pub async fn count(db: &TestDatabase, sql: &str) -> i64 {
        db.scalar(sql).await
    }

    /// A GET as an operator: the tests read every customer's records.
    pub async fn get(&self, service: &RunningService, path: &str) -> Value {
        self.http
            .get(service.url(path))
            .header("X-Admin-Token", TEST_ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn stop(self) {
        self.order.stop().await;
        self.email.stop().await;
        self.analytics.stop().await;
        self.payment.stop().await;
        self.inventory.stop().await;
        let _ = std::fs::remove_dir_all(&self._mail_dir);
    }
}

/// The order outbox's unpublished events, heartbeats left out: the tests write a heartbeat
/// every 500 ms (`HEARTBEAT_INTERVAL_MS` above) through the same outbox, so one may be
/// waiting at any moment, while every business event must have left once things settle.
pub const UNPUBLISHED_BUSINESS_EVENTS: &str =
    "SELECT count(*) FROM outbox WHERE published_at IS NULL AND event_type <> 'order.heartbeat'";

/// Fetches until `done` holds, or fails the test after `within` showing the last value.
async fn poll<F, Fut>(within: Duration, what: &str, fetch: F, done: impl Fn(&Value) -> bool) -> Value
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let value = fetch().await;
        if done(&value) {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} never got there: {value:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn order_body(customer: &str, sku: &str, quantity: i64, card: &str) -> Value {
    json!({ "customer_id": customer, "lines": [{ "sku": sku, "quantity": quantity }], "card_number": card })
}

pub fn key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The sum of the metric lines named `name` whose labels contain every `label`, in a
/// Prometheus text exposition.
pub fn metric(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter(|l| labels.iter().all(|want| l.contains(want)))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

/// Whether an order (as `GET /orders/{id}` shows it) has reached a terminal state.
pub fn terminal(o: &Value) -> bool {
    matches!(o["status"].as_str(), Some("confirmed" | "rejected" | "cancelled"))
}
