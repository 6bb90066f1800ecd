//! The event store: one [`EventRepository`] over two backends (embedded
//! SQLite, MongoDB), plugged into cqrs-es as its `PersistedEventRepository`,
//! with a gap-free global position per event that projections read in order.

mod aggregate_store;
mod commands;
mod mongo;
mod sqlite;

pub use aggregate_store::{AggregateStore, StoreContext};
pub use commands::{CommandBus, CommandError, CommandMetadata};
pub use mongo::MongoEventStore;
pub use sqlite::{SqliteEventStore, SyncMode};

use crate::metrics::Metrics;
use chrono::{DateTime, Utc};
use cqrs_es::persist::{
    EventUpcaster, PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use projections::{EventSource, RecordedEvent, SourceError};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;

/// Metadata keys every command stamps on its events.
pub mod meta {
    /// Request id of the HTTP call (or job id) that caused the event.
    pub const CORRELATION_ID: &str = "correlation_id";
    /// Erasable reference to the acting identity (never the identity itself).
    pub const ACTOR: &str = "actor";
    /// When the command was handled (RFC 3339), as seen by the service.
    pub const OCCURRED_AT: &str = "occurred_at";
    /// Unique id of the event, assigned by the store.
    pub const EVENT_ID: &str = "event_id";
}

/// An event as a backend stores and returns it, before upcasting.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub position: u64,
    pub event_id: String,
    pub recorded_at: DateTime<Utc>,
    pub event: SerializedEvent,
}

/// Snapshot written in the same atomic unit as the events that reach it.
#[derive(Debug, Clone)]
pub struct SnapshotWrite {
    pub aggregate_id: String,
    pub state: Value,
    pub last_sequence: u64,
    pub snapshot_no: u64,
}

#[derive(Clone)]
enum Backend {
    Embedded(Arc<SqliteEventStore>),
    Mongo(Arc<MongoEventStore>),
}

/// Upcasters in the order they apply.
pub type Upcasters = Arc<Vec<Box<dyn EventUpcaster>>>;

/// The event store the rest of the service talks to.
#[derive(Clone)]
pub struct EventRepository {
    backend: Backend,
    upcasters: Upcasters,
    appended: Arc<watch::Sender<u64>>,
    metrics: Metrics,
}

impl EventRepository {
    pub fn embedded(store: SqliteEventStore) -> Self {
        Self::new(Backend::Embedded(Arc::new(store)))
    }

    pub fn mongo(store: MongoEventStore) -> Self {
        Self::new(Backend::Mongo(Arc::new(store)))
    }

    fn new(backend: Backend) -> Self {
        Self {
            backend,
            upcasters: Arc::new(Vec::new()),
            appended: Arc::new(watch::Sender::new(0)),
            metrics: Metrics::new(),
        }
    }

    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn with_upcasters(mut self, upcasters: Vec<Box<dyn EventUpcaster>>) -> Self {
        self.upcasters = Arc::new(upcasters);
        self
    }

    pub fn upcasters(&self) -> &Upcasters {
        &self.upcasters
    }

    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Embedded(_) => "embedded",
            Backend::Mongo(_) => "mongodb",
        }
    }

    /// Head position after each append made through this process.
    pub fn appended(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }

    pub async fn ping(&self) -> Result<(), PersistenceError> {
        match &self.backend {
            Backend::Embedded(s) => s.ping().await,
            Backend::Mongo(s) => s.ping().await,
        }
    }

    /// Appends events (all of one aggregate) and an optional snapshot
    /// atomically. Returns the positions given to the events.
    pub async fn append(
        &self,
        aggregate_type: &str,
        events: &[SerializedEvent],
        snapshot: Option<SnapshotWrite>,
    ) -> Result<Vec<u64>, PersistenceError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let positions = match &self.backend {
            Backend::Embedded(s) => s.append(aggregate_type, events, snapshot).await?,
            Backend::Mongo(s) => s.append(aggregate_type, events, snapshot).await?,
        };
        self.metrics
            .events_appended
            .with_label_values(&[aggregate_type])
            .inc_by(positions.len() as u64);
        if let Some(&last) = positions.last() {
            self.appended.send_if_modified(|head| {
                let moved = last > *head;
                *head = (*head).max(last);
                moved
            });
        }
        Ok(positions)
    }

    /// Events of one aggregate with `sequence > after`, in order, not upcast.
    pub async fn stream_of(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after: u64,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        match &self.backend {
            Backend::Embedded(s) => s.stream_of(aggregate_type, aggregate_id, after).await,
            Backend::Mongo(s) => s.stream_of(aggregate_type, aggregate_id, after).await,
        }
    }

    pub async fn snapshot(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        match &self.backend {
            Backend::Embedded(s) => s.snapshot(aggregate_type, aggregate_id).await,
            Backend::Mongo(s) => s.snapshot(aggregate_type, aggregate_id).await,
        }
    }

    /// Raw events after `position`, in position order, not upcast.
    pub async fn read_raw(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, PersistenceError> {
        match &self.backend {
            Backend::Embedded(s) => s.read_after(after, limit).await,
            Backend::Mongo(s) => s.read_after(after, limit).await,
        }
    }

    pub async fn head_position(&self) -> Result<u64, PersistenceError> {
        match &self.backend {
            Backend::Embedded(s) => s.head().await,
            Backend::Mongo(s) => s.head().await,
        }
    }

    pub fn upcast(&self, event: SerializedEvent) -> SerializedEvent {
        upcast(&self.upcasters, event)
    }
}

/// Applies every matching upcaster in order (cqrs-es keeps its own fold private).
pub fn upcast(upcasters: &[Box<dyn EventUpcaster>], event: SerializedEvent) -> SerializedEvent {
    upcasters.iter().fold(event, |event, upcaster| {
        if upcaster.can_upcast(&event.event_type, &event.event_version) {
            upcaster.upcast(event)
        } else {
            event
        }
    })
}

fn metadata_map(value: &Value) -> HashMap<String, String> {
    value
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                .collect()
        })
        .unwrap_or_default()
}

impl PersistedEventRepository for EventRepository {
    async fn get_events<A: Aggregate>(&self, aggregate_id: &str) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.stream_of(A::TYPE, aggregate_id, 0).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.stream_of(A::TYPE, aggregate_id, last_sequence as u64).await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        self.snapshot(A::TYPE, aggregate_id).await
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        let last_sequence = events.last().map_or(0, |e| e.sequence as u64);
        let snapshot = snapshot_update.map(|(aggregate_id, state, snapshot_no)| SnapshotWrite {
            aggregate_id,
            state,
            last_sequence,
            snapshot_no: snapshot_no as u64,
        });
        self.append(A::TYPE, events, snapshot).await.map(|_| ())
    }

    async fn stream_events<A: Aggregate>(&self, aggregate_id: &str) -> Result<ReplayStream, PersistenceError> {
        let events = self.get_events::<A>(aggregate_id).await?;
        Ok(feed(events))
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        // Global position order, filtered to this aggregate type.
        let mut events = Vec::new();
        let mut after = 0;
        loop {
            let batch = self.read_raw(after, 1000).await?;
            let Some(last) = batch.last() else { break };
            after = last.position;
            events.extend(
                batch
                    .into_iter()
                    .filter(|e| e.event.aggregate_type == A::TYPE)
                    .map(|e| e.event),
            );
        }
        Ok(feed(events))
    }
}

fn feed(events: Vec<SerializedEvent>) -> ReplayStream {
    let (mut feed, stream) = ReplayStream::new(events.len().max(1));
    tokio::spawn(async move {
        for event in events {
            if feed.push(Ok(event)).await.is_err() {
                break;
            }
        }
    });
    stream
}

#[async_trait::async_trait]
impl EventSource for EventRepository {
    async fn read_after(&self, after: u64, limit: usize) -> Result<Vec<RecordedEvent>, SourceError> {
        let raw = self
            .read_raw(after, limit)
            .await
            .map_err(|e| SourceError(e.to_string()))?;
        Ok(raw
            .into_iter()
            .map(|stored| {
                let event = self.upcast(stored.event);
                let mut metadata = metadata_map(&event.metadata);
                metadata.insert(meta::EVENT_ID.to_owned(), stored.event_id.clone());
                RecordedEvent {
                    position: stored.position,
                    event_id: stored.event_id,
                    aggregate_type: event.aggregate_type,
                    aggregate_id: event.aggregate_id,
                    sequence: event.sequence as u64,
                    event_type: event.event_type,
                    event_version: event.event_version,
                    payload: event.payload,
                    metadata,
                    recorded_at: stored.recorded_at,
                }
            })
            .collect())
    }

    async fn head(&self) -> Result<u64, SourceError> {
        self.head_position().await.map_err(|e| SourceError(e.to_string()))
    }
}

pub(crate) fn unknown(error: impl std::fmt::Display) -> PersistenceError {
    PersistenceError::UnknownError(error.to_string().into())
}

pub(crate) fn connection(error: impl std::fmt::Display) -> PersistenceError {
    PersistenceError::ConnectionError(error.to_string().into())
}
