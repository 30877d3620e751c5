//! The email database: the emails to send and their delivery state.
crate::migrator!(m20261122_000001_emails; crate::messaging::ProcessedEvents, crate::messaging::ProcessedEventsRetention, crate::messaging::FaultSwitches, crate::messaging::ConsumerSwitches, crate::service::ReplicaSwitch);
