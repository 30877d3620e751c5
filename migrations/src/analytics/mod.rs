//! The analytics database: eventually consistent projections of order events.
crate::migrator!(m20261122_000001_projections; crate::messaging::ProcessedEvents);
