use reqwest::{Client, Url};

/// A RabbitMQ vhost of its own, deleted (with all its queues) when this value is dropped.
pub struct TestVhost {
    pub amqp_url: String,
    pub name: String,
    management: Management,
}

#[derive(Clone)]
struct Management {
    base: Url,
    user: String,
    password: String,
}

impl Management {
    fn from_env() -> Self {
        let raw = std::env::var("TEST_RABBITMQ_MANAGEMENT_URL").unwrap_or_else(|_| {
            format!(
                "http://platform:platform@127.0.0.1:{}",
                platform_config::DEV_RABBITMQ_MGMT_PORT
            )
        });
        let mut base = Url::parse(&raw).expect("TEST_RABBITMQ_MANAGEMENT_URL is a URL");
        let user = base.username().to_string();
        let password = base.password().unwrap_or_default().to_string();
        let _ = base.set_username("");
        let _ = base.set_password(None);
        Self { base, user, password }
    }

    async fn get(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        let res = Client::new()
            .get(self.base.join(path)?)
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await?;
        anyhow::ensure!(res.status().is_success(), "{path}: {}", res.status());
        Ok(res.json().await?)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<()> {
        let url = self.base.join(path)?;
        let mut req = Client::new()
            .request(method, url)
            .basic_auth(&self.user, Some(&self.password));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await?;
        anyhow::ensure!(res.status().is_success(), "{path}: {}", res.status());
        Ok(())
    }
}

impl TestVhost {
    /// "The broker is down", as far as the services on this vhost can tell: the vhost (and
    /// every connection to it) disappears. Other tests' vhosts are untouched.
    pub async fn take_down(&self) {
        self.management
            .call(
                reqwest::Method::DELETE,
                &format!("api/vhosts/{}", self.name),
                None,
            )
            .await
            .expect("delete vhost");
    }

    /// The broker is back: the vhost exists again (empty), services reconnect by themselves.
    pub async fn bring_back(&self) {
        self.management
            .call(reqwest::Method::PUT, &format!("api/vhosts/{}", self.name), None)
            .await
            .expect("create vhost");
        let permissions = serde_json::json!({ "configure": ".*", "write": ".*", "read": ".*" });
        self.management
            .call(
                reqwest::Method::PUT,
                &format!("api/permissions/{}/{}", self.name, self.management.user),
                Some(permissions),
            )
            .await
            .expect("grant vhost permissions");
    }

    /// A queue as the management API reports it (depth, consumers, message stats...).
    pub async fn queue(&self, queue: &str) -> serde_json::Value {
        self.management
            .get(&format!("api/queues/{}/{queue}", self.name))
            .await
            .unwrap_or_default()
    }

    pub async fn create(prefix: &str) -> Self {
        let management = Management::from_env();
        let name = format!("t_{prefix}_{}", uuid::Uuid::new_v4().simple());
        management
            .call(reqwest::Method::PUT, &format!("api/vhosts/{name}"), None)
            .await
            .unwrap_or_else(|e| {
                panic!("cannot create a vhost through the RabbitMQ management API (run `./dev test`): {e}")
            });
        let permissions = serde_json::json!({ "configure": ".*", "write": ".*", "read": ".*" });
        management
            .call(
                reqwest::Method::PUT,
                &format!("api/permissions/{name}/{}", management.user),
                Some(permissions),
            )
            .await
            .expect("grant vhost permissions");
        let base = std::env::var("TEST_AMQP_URL").unwrap_or_else(|_| {
            format!(
                "amqp://platform:platform@127.0.0.1:{}",
                platform_config::DEV_AMQP_PORT
            )
        });
        Self {
            amqp_url: format!("{}/{name}", base.trim_end_matches('/')),
            name,
            management,
        }
    }
}

impl TestVhost {
    /// Open AMQP connections to this vhost, as the broker sees them.
    pub async fn connection_count(&self) -> usize {
        let path = format!("api/vhosts/{}/connections", self.name);
        self.management
            .get(&path)
            .await
            .ok()
            .and_then(|v| v.as_array().map(Vec::len))
            .unwrap_or(0)
    }
}

impl TestVhost {
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
        let management = self.management.clone();
        let path = format!("api/vhosts/{}", self.name);
        crate::block_on_side(async move {
            if let Err(e) = management.call(reqwest::Method::DELETE, &path, None).await {
                eprintln!("test cleanup: {e}");
            }
        });
    }
}
