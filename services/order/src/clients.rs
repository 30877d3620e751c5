//! Calls to inventory and payment: the critical path's only network hops.
//!
//! Every call has a timeout shorter than the shopper's patience, goes through a circuit
//! breaker per dependency, and reports *what is known* about its outcome, because that is
//! what the saga decides on:
//! - `Answered`: the dependency answered with an error status. The outcome is known.
//! - `NotSent`: the request never reached it (connection refused, circuit open). Nothing
//!   happened there; retrying is safe and cheap.
//! - `Unknown`: it timed out or the connection broke after sending. The operation may or
//!   may not have happened. Only an idempotent retry (same order id) can tell.

use std::{sync::Arc, time::Duration};

use backon::{ExponentialBuilder, Retryable};
use failsafe::{
    Config, StateMachine, backoff,
    failure_policy::{self, SuccessRateOverTimeWindow},
    futures::CircuitBreaker,
};
use platform_contracts::error::{ErrorBody, ErrorDetail};
use platform_telemetry::CorrelationId;
use serde::{Serialize, de::DeserializeOwned};

#[derive(Debug, Clone)]
pub enum CallError {
    Answered {
        status: u16,
        /// The dependency's error body (`code`, `message`, `details`).
        error: ErrorDetail,
        retry_after: Option<Duration>,
    },
    NotSent(String),
    Unknown(String),
}

impl CallError {
    /// Worth another attempt: nothing happened (not sent, 429, 502/503/504) or the outcome
    /// is unknown. Our calls are idempotent per order id, so a retry never doubles an effect.
    pub fn is_transient(&self) -> bool {
        match self {
            CallError::Answered { status, .. } => matches!(status, 429 | 500 | 502 | 503 | 504),
            CallError::NotSent(_) | CallError::Unknown(_) => true,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Answered { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A dependency being sick (not its answer to our request) trips the breaker. A 502 is
    /// the dependency answering that *its* upstream failed (payment's card provider, for
    /// one card): the dependency itself is fine, and opening the circuit would refuse every
    /// other shopper because of one card.
    fn is_dependency_failure(&self) -> bool {
        match self {
            CallError::Answered { status, .. } => matches!(status, 500 | 503 | 504),
            CallError::NotSent(_) | CallError::Unknown(_) => true,
        }
    }

    pub fn code(&self) -> &str {
        match self {
            CallError::Answered { error, .. } => &error.code,
            CallError::NotSent(_) => "not_sent",
            CallError::Unknown(_) => "unknown_outcome",
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Answered { status, error, .. } => {
                write!(f, "{status} {}: {}", error.code, error.message)
            }
            CallError::NotSent(e) => write!(f, "not sent: {e}"),
            CallError::Unknown(e) => write!(f, "outcome unknown: {e}"),
        }
    }
}

type Breaker = StateMachine<SuccessRateOverTimeWindow<backoff::EqualJittered>, ()>;

/// One downstream service.
#[derive(Clone)]
pub struct Dependency {
    pub name: &'static str,
    base_url: Arc<str>,
    http: reqwest::Client,
    timeout: Duration,
    breaker: Breaker,
    /// `Authorization: Service order:<secret>`: inventory and payment accept their
    /// state-changing calls only from the order service (`platform_http::service_auth`).
    credential: Option<Arc<str>>,
}

impl Dependency {
    pub fn new(name: &'static str, base_url: String, timeout: Duration, breaker_window: Duration) -> Self {
        // The circuit opens when fewer than half of the recent calls succeeded (a moving
        // average over `breaker_window`, given at least 20 calls in it), for 2 to 30 s
        // (growing while it keeps failing). While
        // open, calls fail at once instead of each waiting for a timeout: a dead dependency
        // costs microseconds, not a pile-up of blocked requests. A *rate* over a window,
        // not "N failures in a row": a handful of slow cards among healthy traffic must not
        // shut the checkout for every other shopper.
        let policy = failure_policy::success_rate_over_time_window(
            0.5,
            20,
            breaker_window,
            backoff::equal_jittered(Duration::from_secs(2), Duration::from_secs(30)),
        );
        Self {
            name,
            base_url: base_url.trim_end_matches('/').into(),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                // Drop idle connections before the server does (actix closes them after
                // 5 s): reusing one the server is closing fails the request mid-flight,
                // which for us is an "unknown outcome".
                .pool_idle_timeout(Duration::from_secs(3))
                .build()
                .expect("a plain HTTP client always builds"),
            timeout,
            breaker: Config::new().failure_policy(policy).build(),
            credential: None,
        }
    }

    /// Every call carries this service's credential (`SERVICE_TOKEN`).
    pub fn authenticated_as(mut self, service: &str, secret: &str) -> Self {
        self.credential = Some(platform_http::service_auth::credential(service, secret).into());
        self
    }

    /// Whether the breaker currently lets calls through (used for backpressure).
    pub fn is_available(&self) -> bool {
        self.breaker.is_call_permitted()
    }

    /// One attempt, through the circuit breaker. `R` is the answer's contract type: an
    /// answer that does not parse as `R` is an unknown outcome, never a default value.
    pub async fn post<R: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&impl Serialize>,
        correlation: &CorrelationId,
    ) -> Result<R, CallError> {
        self.send(reqwest::Method::POST, path, body, correlation).await
    }

    pub async fn get<R: DeserializeOwned>(
        &self,
        path: &str,
        correlation: &CorrelationId,
    ) -> Result<R, CallError> {
        self.send(reqwest::Method::GET, path, None::<&()>, correlation)
            .await
    }

    /// A few quick attempts, for the critical path: only when nothing happened on the other
    /// side (not sent, 502/503) and with short delays, so the shopper waits at most a few
    /// hundred milliseconds more. 429s and unknown outcomes are left to the reconciler,
    /// which honours Retry-After without keeping the shopper waiting.
    pub async fn post_with_retries<R: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
        correlation: &CorrelationId,
    ) -> Result<R, CallError> {
        (|| self.post(path, Some(body), correlation))
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(50))
                    .with_max_delay(Duration::from_millis(400))
                    .with_max_times(2)
                    .with_jitter(),
            )
            .when(|e| match e {
                CallError::NotSent(_) => true,
                CallError::Answered { status, .. } => matches!(status, 502 | 503),
                CallError::Unknown(_) => false,
            })
            .notify(|e, after| tracing::info!(dependency = self.name, error = %e, retry_in_ms = after.as_millis() as u64, "retrying"))
            .await
    }

    async fn send<R: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&impl Serialize>,
        correlation: &CorrelationId,
    ) -> Result<R, CallError> {
        let request = platform_telemetry::traced(
            self.http
                .request(method, format!("{}{path}", self.base_url))
                .timeout(self.timeout),
            correlation,
        );
        let request = match body {
            Some(b) => request.json(b),
            None => request,
        };
        let request = match &self.credential {
            Some(c) => request.header(reqwest::header::AUTHORIZATION, &**c),
            None => request,
        };
        let call = async move {
            let response = request.send().await.map_err(classify)?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_secs);
            if status.is_success() {
                return response.json::<R>().await.map_err(classify);
            }
            // An error answer that is not the shared error shape (a proxy's HTML page)
            // still has a status to decide on.
            let error = match response.json::<ErrorBody>().await {
                Ok(body) => body.error,
                Err(e) => ErrorDetail {
                    code: "unknown".into(),
                    message: format!("unreadable error body: {e}"),
                    details: None,
                },
            };
            Err(CallError::Answered {
                status: status.as_u16(),
                error,
                retry_after,
            })
        };
        match self
            .breaker
            .call_with(|e: &CallError| e.is_dependency_failure(), call)
            .await
        {
            Ok(v) => Ok(v),
            Err(failsafe::Error::Inner(e)) => Err(e),
            Err(failsafe::Error::Rejected) => {
                Err(CallError::NotSent(format!("{} circuit is open", self.name)))
            }
        }
    }
}

fn classify(e: reqwest::Error) -> CallError {
    if e.is_connect() {
        CallError::NotSent(e.to_string())
    } else {
        CallError::Unknown(e.to_string())
    }
}
