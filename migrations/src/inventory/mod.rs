//! The inventory database: catalog, stock and reservations.
crate::migrator!(
    m20261122_000001_catalog_and_stock,
    m20261122_000002_seed_catalog,
    m20261123_000001_restocks;
    crate::messaging::ProcessedEvents, crate::messaging::ProcessedEventsRetention, crate::messaging::FaultSwitches;
    m20261204_000001_returned_reservations,
    m20261205_100006_consumer_switches,
    m20261205_100007_replica_switch,
    m20261205_200001_reservation_mode
);
