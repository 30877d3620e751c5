//! Which reader a consumer reads events with (`ReaderMode`): the platform's tolerant one,
//! or, switched on by the "deploy a breaking change" scenario, the strict v1 reader a
//! consumer had before order.confirmed's money change. The strict one stands in for a
//! consumer build that was deployed without being migrated: it requires the renamed
//! `total_minor`, so every v2 event fails it for good and is dead-lettered, the alert fires,
//! and after the "fix" (back to tolerant) the dead letters are replayed and applied once
//! (docs/schema-evolution.md).

use platform_contracts::{Envelope, ops::ReaderMode, upcast};

use super::{HandlerError, Inner};

impl Inner {
    /// Reads `envelope` with this consumer's reader, before its handler does.
    pub(super) fn read(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        match *self.reader.borrow() {
            ReaderMode::Tolerant => Ok(()),
            ReaderMode::StrictV1 => Ok(upcast::read_strictly_as_v1(envelope)?),
        }
    }
}
