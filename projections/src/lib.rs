//! Read models and the projector runtime.
//!
//! A [`Projection`] turns recorded events into [`Change`]s on a [`ReadStore`].
//! The [`Projector`] feeds it events in global order from an [`EventSource`],
//! commits each batch together with its checkpoint (so a batch is applied
//! exactly once even though delivery is at-least-once), tails the log live,
//! holds a lease so one instance at a time runs it, and rebuilds it into a
//! fresh generation that is swapped in only when caught up.

pub mod changeset;
pub mod devmarkt;
pub mod event;
pub mod kippenstummel;
pub mod projection;
pub mod query;
pub mod rsql;
pub mod runtime;
pub mod stats;
pub mod store;
pub mod supercluster;
#[cfg(test)]
pub mod testing;

pub use changeset::{ChangeSet, Scratch};
pub use event::{EventSource, RecordedEvent, SourceError};
pub use projection::{Projection, ProjectionError};
pub use query::{DocQuery, FieldKind, PositionFields, QueryField, Queryable};
pub use runtime::{ProjectionState, ProjectionStatus, Projector, ProjectorConfig, RebuildReport, RunError};
pub use store::{bounded_range, ActiveModel, Change, Namespace, ReadStore, StoreError, MAX_RANGE_INDEX};
