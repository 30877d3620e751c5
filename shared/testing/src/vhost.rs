use platform_messaging::management::Management;
use reqwest::Method;
use serde_json::{Value, json};

/// The management API of the test broker, with credentials.
pub fn management_url() -> String {
    std::env::var("TEST_RABBITMQ_MANAGEMENT_URL").unwrap_or_else(|_| {
        format!(
            "http://platform:platform@127.0.0.1:{}",
            platform_config::DEV_RABBITMQ_MGMT_PORT
        )
    })
}

/// A RabbitMQ vhost of its own, deleted (with all its queues) when this value is dropped.
pub struct TestVhost {
    pub amqp_url: String,
    pub name: String,
    management: Management,
}

impl TestVhost {
    pub async fn create(prefix: &str) -> Self {
        let management = Management::new(&management_url()).expect("TEST_RABBITMQ_MANAGEMENT_URL is a URL");
        let name = format!("t_{prefix}_{}", uuid::Uuid::new_v4().simple());
        let base = std::env::var("TEST_AMQP_URL").unwrap_or_else(|_| {
            format!(
                "amqp://platform:platform@127.0.0.1:{}",
                platform_config::DEV_AMQP_PORT
            )
        });
        let vhost = Self {
            amqp_url: format!("{}/{name}", base.trim_end_matches('/')),
            name,
            management,
        };
        vhost.bring_back().await;
        vhost
    }

    /// "The broker is down", as far as the services on this vhost can tell: the vhost (and
    /// every connection to it) disappears. Other tests' vhosts are untouched.
    pub async fn take_down(&self) {
        self.management
            .call(Method::DELETE, &format!("api/vhosts/{}", self.name), None)
            .await
            .expect("delete vhost");
    }

    /// The broker is back (or there for the first time): the vhost exists, empty, and the
    /// test user may use it. Services reconnect by themselves.
    pub async fn bring_back(&self) {
        self.management
            .call(Method::PUT, &format!("api/vhosts/{}", self.name), None)
            .await
            .unwrap_or_else(|e| {
                panic!("cannot create a vhost through the RabbitMQ management API (run `./dev test`): {e}")
            });
        let permissions = json!({ "configure": ".*", "write": ".*", "read": ".*" });
        self.management
            .call(
                Method::PUT,
                &format!("api/permissions/{}/{}", self.name, self.management.user()),
                Some(permissions),
            )
            .await
            .expect("grant vhost permissions");
    }

    /// Deletes a queue (and its bindings): a broker that lost it, or an operator's mistake.
    pub async fn delete_queue(&self, queue: &str) {
        self.management
            .call(Method::DELETE, &format!("api/queues/{}/{queue}", self.name), None)
            .await
            .expect("delete queue");
    }

    /// A queue as the management API reports it (depth, consumers, message stats...).
    pub async fn queue(&self, queue: &str) -> Value {
        self.management
            .get(&format!("api/queues/{}/{queue}", self.name))
            .await
            .unwrap_or_default()
    }

    /// Declares `queue` (durable) and puts one message with these AMQP headers on it, through
    /// the management API: a queue in a given state without a service to produce it.
    pub async fn put_message(&self, queue: &str, headers: Value) {
        let vhost = &self.name;
        self.management
            .call(
                Method::PUT,
                &format!("api/queues/{vhost}/{queue}"),
                Some(json!({ "durable": true })),
            )
            .await
            .expect("declare queue");
        let before = self.queue(queue).await["messages"].as_u64().unwrap_or(0);
        let message = json!({
            "routing_key": queue,
            "payload": "{}",
            "payload_encoding": "string",
            "properties": { "message_id": uuid::Uuid::new_v4().to_string(), "headers": headers },
        });
        let routed = self
            .management
            .call(
                Method::POST,
                &format!("api/exchanges/{vhost}/amq.default/publish"),
                Some(message),
            )
            .await
            .expect("publish through the management API");
        assert_eq!(routed["routed"], true, "message not routed to {queue}");
        // The management API counts messages from periodic statistics, not live: wait
        // until it shows this one, so that whatever the test reads next sees it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while self.queue(queue).await["messages"].as_u64().unwrap_or(0) <= before {
            assert!(
                std::time::Instant::now() < deadline,
                "{queue} never showed the message"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// Publishes an event to the platform's exchange, as the order service's relay would,
    /// through the management API; retried until a queue is bound to take it (a consumer
    /// that just started may not have declared its queue yet).
    pub async fn publish_event(&self, envelope: &platform_contracts::Envelope) {
        let vhost = &self.name;
        let message = json!({
            "routing_key": envelope.event_type,
            "payload": serde_json::to_string(envelope).expect("envelopes serialise"),
            "payload_encoding": "string",
            "properties": { "message_id": envelope.event_id.to_string(), "delivery_mode": 2 },
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let routed = self
                .management
                .call(
                    Method::POST,
                    &format!("api/exchanges/{vhost}/{}/publish", platform_contracts::EXCHANGE),
                    Some(message.clone()),
                )
                .await;
            if matches!(&routed, Ok(r) if r["routed"] == true) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} never routed: {routed:?}",
                envelope.event_type
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// Open AMQP connections to this vhost, as the broker sees them.
    pub async fn connection_count(&self) -> usize {
        self.management
            .get(&format!("api/vhosts/{}/connections", self.name))
            .await
            .ok()
            .and_then(|v| v.as_array().map(Vec::len))
            .unwrap_or(0)
    }

    /// Waits until the broker lists exactly `n` connections to this vhost.
    pub async fn wait_for_connections(&self, n: usize, within: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let seen = self.connection_count().await;
            if seen == n {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {n} broker connections, still {seen}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }
}

impl Drop for TestVhost {
    fn drop(&mut self) {
        let path = format!("api/vhosts/{}", self.name);
        crate::block_on_side(async move {
            // A client of its own: the test's client pools connections tied to the test's
            // runtime, which is not the one this cleanup runs on.
            let Ok(management) = Management::new(&management_url()) else {
                return;
            };
            if let Err(e) = management.call(Method::DELETE, &path, None).await {
                eprintln!("test cleanup: {e}");
            }
        });
    }
}
