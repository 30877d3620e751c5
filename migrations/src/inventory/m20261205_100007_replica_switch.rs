//! The shared `replica_switch` table (`crate::service`), listed after this service's own later
//! migrations rather than with the shared ones: migrations are only ever appended, so that
//! `down` undoes them newest first.
pub use crate::service::ReplicaSwitch as Migration;
