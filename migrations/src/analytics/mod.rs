//! The analytics database: eventually consistent projections of order events.
crate::migrator!(m20261122_000001_projections, m20261123_000001_counter_slots; crate::messaging::ProcessedEvents, crate::messaging::ProcessedEventsRetention, crate::messaging::FaultSwitches, crate::messaging::ConsumerSwitches, crate::service::ReplicaSwitch);
