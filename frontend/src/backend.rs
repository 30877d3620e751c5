//! Calls from the storefront to the services.

use std::time::Duration;

use platform_config::Component;
use platform_telemetry::CorrelationId;
use serde_json::Value;

#[derive(Clone)]
pub struct Backend {
    http: reqwest::Client,
    services: Vec<(Component, String)>,
}

/// What a call returned: the status and the JSON body (errors included: the services
/// answer errors as JSON, and the pages show their message).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The error message a service sent, for a friendly page.
    pub fn message(&self) -> String {
        self.body["error"]["message"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| format!("the service answered {}", self.status))
    }
}

impl Backend {
    pub fn new(services: Vec<(Component, String)>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(3))
            .build()
            .expect("a plain HTTP client always builds");
        Self { http, services }
    }

    pub fn services(&self) -> &[(Component, String)] {
        &self.services
    }

    fn url(&self, component: Component, path: &str) -> String {
        let base = self
            .services
            .iter()
            .find(|(c, _)| *c == component)
            .map(|(_, u)| u.as_str())
            .unwrap_or("http://127.0.0.1:9");
        format!("{base}{path}")
    }

    pub async fn get(&self, component: Component, path: &str, correlation: &CorrelationId) -> Reply {
        self.send(
            reqwest::Method::GET,
            component,
            path,
            None,
            correlation,
            None,
            &[],
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn send(
        &self,
        method: reqwest::Method,
        component: Component,
        path: &str,
        body: Option<&Value>,
        correlation: &CorrelationId,
        admin_token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req =
            platform_telemetry::traced(self.http.request(method, self.url(component, path)), correlation);
        if let Some(token) = admin_token {
            req = req.bearer_auth(token);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        match req.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                let body = res.json().await.unwrap_or(Value::Null);
                Reply { status, body }
            }
            Err(e) => Reply {
                status: 503,
                body: serde_json::json!({ "error": { "code": "unreachable", "message": format!("{} is unreachable: {e}", component.name()) } }),
            },
        }
    }
}
