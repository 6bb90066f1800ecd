//! The event as projections see it: already upcast to the current schema,
//! stamped with its global position.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

/// One event of the global log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// Global, gap-free position in commit order (starts at 1).
    pub position: u64,
    pub event_id: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// Per-aggregate sequence (starts at 1).
    pub sequence: u64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: HashMap<String, String>,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
#[error("event source: {0}")]
pub struct SourceError(pub String);

/// Read access to the global log, in position order.
#[async_trait]
pub trait EventSource: Send + Sync {
    /// Events with `position > after`, ascending, at most `limit`.
    async fn read_after(&self, after: u64, limit: usize) -> Result<Vec<RecordedEvent>, SourceError>;
    /// The highest committed position (0 for an empty log).
    async fn head(&self) -> Result<u64, SourceError>;
}
