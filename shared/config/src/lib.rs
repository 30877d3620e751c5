//! Configuration from environment variables, with defaults that match `./dev up`.
//!
//! Every service reads the same small set of variables (`HTTP_PORT`, `DATABASE_URL`,
//! `AMQP_URL`, ...). The defaults point at the loopback PostgreSQL and RabbitMQ that
//! `./dev` starts on its own ports, so `cargo run -p order-service` just works on a
//! developer machine, and nothing ever points at a shared or production host by accident.

use std::{fmt::Display, str::FromStr, time::Duration};

/// The default ports of the local stack. They are not the standard ones (5432, 5672) so
/// that `./dev` never collides with a PostgreSQL or RabbitMQ already running on the box.
pub const DEV_PG_PORT: u16 = 25432;
pub const DEV_AMQP_PORT: u16 = 25672;
pub const DEV_RABBITMQ_MGMT_PORT: u16 = 25673;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    Invalid {
        name: String,
        value: String,
        reason: String,
    },
}

/// The processes of the platform, with their default HTTP ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    Frontend,
    Order,
    Inventory,
    Payment,
    Email,
    Analytics,
}

impl Component {
    pub const SERVICES: [Component; 5] = [
        Component::Order,
        Component::Inventory,
        Component::Payment,
        Component::Email,
        Component::Analytics,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Component::Frontend => "frontend",
            Component::Order => "order",
            Component::Inventory => "inventory",
            Component::Payment => "payment",
            Component::Email => "email",
            Component::Analytics => "analytics",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Component::Frontend => 8080,
            Component::Order => 8081,
            Component::Inventory => 8082,
            Component::Payment => 8083,
            Component::Email => 8084,
            Component::Analytics => 8085,
        }
    }

    /// The base URL other processes use to reach this one: `ORDER_URL`, `INVENTORY_URL`...
    pub fn base_url(self) -> String {
        let var = format!("{}_URL", self.name().to_uppercase());
        string(&var, &format!("http://127.0.0.1:{}", self.default_port()))
    }
}

/// Reads a string variable, falling back to `default` when unset or empty.
pub fn string(name: &str, default: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => default.to_string(),
    }
}

/// Reads and parses a variable. A value that is set but does not parse is an error, never
/// silently replaced by the default: a typo in `ORDER_DEADLINE_SECS` must stop the service
/// at start-up, not make it run with a value nobody chose.
pub fn parse<T>(name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
            name: name.to_string(),
            value: v,
            reason: e.to_string(),
        }),
        _ => Ok(default),
    }
}

/// Reads a duration given in milliseconds (`*_MS` variables).
pub fn millis(name: &str, default_ms: u64) -> Result<Duration, ConfigError> {
    parse(name, default_ms).map(Duration::from_millis)
}

/// Reads a duration given in seconds (`*_SECS` variables).
pub fn secs(name: &str, default_secs: u64) -> Result<Duration, ConfigError> {
    parse(name, default_secs).map(Duration::from_secs)
}

/// Where the HTTP server listens. Port 0 asks the OS for a free port (used by tests).
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub host: String,
    pub port: u16,
}

impl HttpSettings {
    pub fn from_env(component: Component) -> Result<Self, ConfigError> {
        Ok(Self {
            host: string("HTTP_HOST", "127.0.0.1"),
            port: parse("HTTP_PORT", component.default_port())?,
        })
    }

    pub fn ephemeral() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 0,
        }
    }
}

/// What every HTTP server of the platform needs (the frontend included).
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub component: Component,
    pub http: HttpSettings,
    /// Largest JSON body accepted, in bytes; bigger bodies get 413 before any parsing.
    pub max_body_bytes: usize,
    /// How long in-flight requests get to finish after SIGTERM.
    pub shutdown_timeout: Duration,
}

impl ServerSettings {
    pub fn from_env(component: Component) -> Result<Self, ConfigError> {
        Ok(Self {
            component,
            http: HttpSettings::from_env(component)?,
            max_body_bytes: parse("MAX_BODY_BYTES", 64 * 1024)?,
            shutdown_timeout: secs("SHUTDOWN_TIMEOUT_SECS", 10)?,
        })
    }
}

/// What every backend service needs: a server, its own database, the broker.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    pub server: ServerSettings,
    /// The service's own database. No service ever reads another one's database.
    pub database_url: String,
    /// A streaming replica of it, for reads that tolerate lag (`DATABASE_REPLICA_URL`;
    /// unset: every read uses the primary).
    pub database_replica_url: Option<String>,
    /// A replica lagging more than this serves no reads (`DATABASE_REPLICA_MAX_LAG_MS`, 5 s).
    pub replica_max_lag: Duration,
    /// How often the replica's lag is measured (`DATABASE_REPLICA_CHECK_MS`, 500 ms).
    pub replica_check_interval: Duration,
    pub amqp_url: String,
    /// RabbitMQ's management API (with credentials), for queue depth and message age.
    pub rabbitmq_management_url: String,
    /// Guards the operator endpoints (replays, retries, fault switches). Empty disables
    /// them entirely, so a misconfigured deployment fails closed rather than open.
    pub admin_token: String,
    /// This service's own secret, sent on its calls to the internal endpoints of others
    /// (`SERVICE_TOKEN`; generated by `./dev`). `platform_http::service_auth`.
    pub service_token: String,
    /// The services that may call this one's internal endpoints, each with the hex SHA-256
    /// of its secret (`SERVICE_CALLERS=order=<hex>,...`). Empty: those endpoints are closed.
    pub service_callers: Vec<(String, String)>,
    /// The secret customers' tokens are signed with (`CUSTOMER_TOKEN_SECRET`; generated by
    /// `./dev`, the same for every service). Empty: customer endpoints are closed.
    /// `platform_http::customer_auth`.
    pub customer_token_secret: String,
}

impl ServiceSettings {
    pub fn from_env(component: Component) -> Result<Self, ConfigError> {
        let name = component.name();
        Ok(Self {
            server: ServerSettings::from_env(component)?,
            database_url: string(
                "DATABASE_URL",
                &format!("postgres://{name}:{name}@127.0.0.1:{DEV_PG_PORT}/{name}"),
            ),
            database_replica_url: std::env::var("DATABASE_REPLICA_URL")
                .ok()
                .filter(|u| !u.is_empty()),
            replica_max_lag: millis("DATABASE_REPLICA_MAX_LAG_MS", 5_000)?,
            replica_check_interval: millis("DATABASE_REPLICA_CHECK_MS", 500)?,
            amqp_url: string(
                "AMQP_URL",
                &format!("amqp://platform:platform@127.0.0.1:{DEV_AMQP_PORT}/platform"),
            ),
            rabbitmq_management_url: string(
                "RABBITMQ_MANAGEMENT_URL",
                &format!("http://platform:platform@127.0.0.1:{DEV_RABBITMQ_MGMT_PORT}"),
            ),
            admin_token: string("ADMIN_TOKEN", ""),
            service_token: string("SERVICE_TOKEN", ""),
            service_callers: callers("SERVICE_CALLERS")?,
            customer_token_secret: string("CUSTOMER_TOKEN_SECRET", ""),
        })
    }

    pub fn component(&self) -> Component {
        self.server.component
    }
}

/// `name=<64 hex digits>,...`: each caller's name and the SHA-256 of its secret.
fn callers(name: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let value = string(name, "");
    value
        .split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((caller, hex))
                if !caller.is_empty() && hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                Ok((caller.to_string(), hex.to_ascii_lowercase()))
            }
            _ => Err(ConfigError::Invalid {
                name: name.into(),
                value: value.clone(),
                reason: format!("{pair:?} is not name=<SHA-256 of its secret, 64 hex digits>"),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_have_distinct_ports() {
        let mut ports: Vec<u16> = Component::SERVICES.iter().map(|c| c.default_port()).collect();
        ports.push(Component::Frontend.default_port());
        ports.sort();
        ports.dedup();
        assert_eq!(ports.len(), 6);
    }

    #[test]
    fn unparsable_value_is_an_error_not_the_default() {
        // SAFETY: the variable name is unique to this test, no other thread reads it.
        unsafe { std::env::set_var("PLATFORM_CONFIG_TEST_PORT", "eighty") };
        let err = parse::<u16>("PLATFORM_CONFIG_TEST_PORT", 80).unwrap_err();
        assert!(err.to_string().contains("PLATFORM_CONFIG_TEST_PORT"));
        assert_eq!(parse::<u16>("PLATFORM_CONFIG_TEST_UNSET", 80).unwrap(), 80);
    }

    #[test]
    fn service_callers_are_names_with_digests() {
        let hex = "ab".repeat(32);
        // SAFETY: the variable names are unique to this test, no other thread reads them.
        unsafe {
            std::env::set_var(
                "PLATFORM_CONFIG_TEST_CALLERS",
                format!("order={hex}, email={hex}"),
            )
        };
        let parsed = callers("PLATFORM_CONFIG_TEST_CALLERS").unwrap();
        assert_eq!(parsed, vec![("order".into(), hex.clone()), ("email".into(), hex)]);
        unsafe { std::env::set_var("PLATFORM_CONFIG_TEST_CALLERS_BAD", "order=secret") };
        let err = callers("PLATFORM_CONFIG_TEST_CALLERS_BAD").unwrap_err();
        assert!(err.to_string().contains("SHA-256"), "{err}");
        assert!(callers("PLATFORM_CONFIG_TEST_CALLERS_UNSET").unwrap().is_empty());
    }
}
