//! HTTP plumbing shared by every service.
//!
//! - [`ApiError`]: the one error type every handler returns. Each service keeps its own
//!   typed error enum and converts it into an `ApiError` in exactly one `From` impl, so
//!   the mapping from "what went wrong" to "status code + JSON body" lives in one place.
//! - [`health`]: `/health/live` and `/health/ready` with pluggable probes.
//! - [`server`]: builds the actix-web server with the shared middleware and runs it until
//!   SIGTERM, then runs the service's shutdown hooks (closing broker channels, stopping actors).
//! - [`admin`] and [`service_auth`]: who may call what (an operator's token; a service's
//!   own credential for the internal endpoints that move stock and money).

pub mod admin;
pub mod consistency;
pub mod customer_auth;
pub mod error;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod metrics;
pub mod server;
pub mod service_auth;

pub use admin::{Admin, AdminToken};
pub use consistency::{CONSISTENCY_HEADER, WriteStamp};
pub use customer_auth::{Customer, CustomerKeys, Reader};
pub use error::ApiError;
pub use health::Probe;
pub use idempotency::IdempotencyKey;
pub use server::{Application, ShutdownHook, serve};
pub use service_auth::{Caller, KnownCallers, OrderOnly};
