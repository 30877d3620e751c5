//! The payment database: customer accounts and payments.
crate::migrator!(m20261122_000001_accounts_and_payments; crate::messaging::ProcessedEvents, crate::messaging::ProcessedEventsRetention, crate::messaging::FaultSwitches, crate::messaging::ConsumerSwitches, crate::service::ReplicaSwitch);
