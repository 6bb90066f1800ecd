//! What a projection is: a name, a version and a fold of events into changes.

use crate::{ChangeSet, RecordedEvent, StoreError};
use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The event could not be understood (bad payload for its type/version).
    #[error("event {position} ({event_type}): {reason}")]
    BadEvent {
        position: u64,
        event_type: String,
        reason: String,
    },
}

impl ProjectionError {
    pub fn bad_event(event: &RecordedEvent, reason: impl ToString) -> Self {
        Self::BadEvent {
            position: event.position,
            event_type: event.event_type.clone(),
            reason: reason.to_string(),
        }
    }
}

#[async_trait]
pub trait Projection: Send + Sync {
    /// Stable name; part of every key the read model uses.
    fn name(&self) -> &'static str;
    /// Bump when `apply` changes meaning: the model is then rebuilt at start.
    fn version(&self) -> u32;
    /// Fold one event into the change set. Reads through `changes` see the
    /// effects of earlier events of the same batch.
    async fn apply(&self, event: &RecordedEvent, changes: &mut ChangeSet<'_>) -> Result<(), ProjectionError>;
}
