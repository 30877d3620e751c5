//! The order database: orders, their timelines, idempotency keys and compensations.
crate::migrator!(m20261122_000001_orders; crate::messaging::Outbox, crate::messaging::OutboxTraceContext);
