//! A small client for RabbitMQ's management HTTP API (queue depths, head-message
//! timestamps, rates), which AMQP itself does not expose.

use reqwest::{Client, Method, Url};
use serde_json::Value;

#[derive(Clone)]
pub struct Management {
    base: Url,
    user: String,
    password: String,
    http: Client,
}

impl Management {
    /// From a URL carrying credentials: `http://user:pass@127.0.0.1:25673`.
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let mut base = Url::parse(url)?;
        let user = base.username().to_string();
        let password = base.password().unwrap_or_default().to_string();
        let _ = base.set_username("");
        let _ = base.set_password(None);
        let http = Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()?;
        Ok(Self {
            base,
            user,
            password,
            http,
        })
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method, self.base.join(path)?)
            .basic_auth(&self.user, Some(&self.password));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await?;
        let status = res.status();
        anyhow::ensure!(status.is_success(), "{path}: {status}");
        let text = res.text().await?;
        Ok(if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)?
        })
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::GET, path, None).await
    }
}

/// The vhost of an AMQP URL, encoded for the management API's paths.
pub fn vhost_of(amqp_url: &str) -> String {
    let path = amqp_url.splitn(4, '/').nth(3).unwrap_or("");
    if path.is_empty() {
        "%2F".to_string()
    } else {
        path.to_string()
    }
}
