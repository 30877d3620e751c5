//! The judges of load and chaos runs: the platform's business invariants
//! ([`invariants`], used by `check-invariants`) and the client ledger of a chaos run held
//! against every database ([`ledger`], used by `check-ledger`).

pub mod invariants;
pub mod ledger;
