//! The platform's end-to-end tests: all five services, against real PostgreSQL and RabbitMQ.
//!
//! One test binary with a module per concern rather than one binary per file: every
//! integration test binary links the whole platform (actix, sea-orm, lapin, the five
//! services), so each extra binary costs link time and hundreds of megabytes of disk for
//! no isolation gain — every test already gets its own databases and vhost.
//! (`metrics.rs` stays a binary of its own: the metrics recorder is global to a process.)
#[path = "../support/mod.rs"]
mod support;

mod bad_input;
mod cancel;
mod cards;
mod consumer_contracts;
mod crash_points;
mod customers;
mod database_outage;
mod fanout;
mod housekeeping;
mod idempotency;
mod identity;
mod integrity;
mod openapi;
mod oversell;
mod queues;
mod schema_evolution;
mod two_instances;
