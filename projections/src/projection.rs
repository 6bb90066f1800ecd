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
    /// Called once per batch, after `apply` for its last event and before the
    /// commit: the place for work that `apply` only marks as due (e.g. in
    /// [`ChangeSet::scratch`]) so it is done once per batch instead of once per
    /// event. The batch's changes, including these, are committed atomically
    /// together with its checkpoint, so deferring work to here keeps the
    /// exactly-once semantics: either the whole batch with its finishing work
    /// is committed, or none of it is and the batch is applied again. What it
    /// writes must depend only on the state after the batch (not on where the
    /// batch boundaries fell), so a replay with any batch size gives the same
    /// model. The default does nothing.
    async fn finish_batch(&self, _changes: &mut ChangeSet<'_>) -> Result<(), ProjectionError> {
        Ok(())
    }
    /// Called after a rebuild has applied the whole log and before its
    /// generation becomes active, in rounds: each round gets a fresh change
    /// set of the rebuild (with its [`ChangeSet::rebuild_scratch`]), is
    /// committed on its own at the final checkpoint, and is followed by
    /// another while it returns `true`. The place to write what the rebuild's
    /// batches kept in the rebuild scratch instead of the store (see
    /// [`ChangeSet::is_rebuild`]): once instead of once per batch, in parts
    /// small enough to hold a round's changes in memory. The default has
    /// nothing to do.
    async fn finish_rebuild(&self, _changes: &mut ChangeSet<'_>) -> Result<bool, ProjectionError> {
        Ok(false)
    }
    /// How many times `batch_size` a live batch may grow to while the
    /// projector is behind (each full batch doubles the next; it drops back
    /// once caught up). For projections part of whose cost per batch is the
    /// same however many events it holds, so a burst of appends (a bulk
    /// import) is applied in a few large batches instead of many small ones.
    /// Default 1: batches of `batch_size`.
    fn catch_up_growth(&self) -> usize {
        1
    }
    /// The collections queried by their fields rather than by key: the store
    /// indexes those fields natively (see [`crate::query`]). Default: none.
    fn queryable(&self) -> &'static [crate::Queryable] {
        &[]
    }
}
