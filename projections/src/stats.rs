//! `event-stats`: how many events of each type the log holds. Backs the
//! statistics endpoints and doubles as the smallest real projection, used by
//! the engine's tests and benchmarks.

use crate::{ChangeSet, Projection, ProjectionError, RecordedEvent};
use async_trait::async_trait;
use serde_json::json;

pub const NAME: &str = "event-stats";
/// Collection of `{aggregateType, eventType, count}` documents keyed `type/event`.
pub const BY_TYPE: &str = "by-type";
/// Sorted set: aggregate type → number of events.
pub const PER_AGGREGATE_TYPE: &str = "per-aggregate-type";

pub struct EventStats;

#[async_trait]
impl Projection for EventStats {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        1
    }

    async fn apply(&self, event: &RecordedEvent, changes: &mut ChangeSet<'_>) -> Result<(), ProjectionError> {
        let key = format!("{}/{}", event.aggregate_type, event.event_type);
        let count = match changes.get(BY_TYPE, &key).await? {
            Some(doc) => doc["count"]
                .as_u64()
                .ok_or_else(|| ProjectionError::bad_event(event, "stored count is not a number"))?,
            None => 0,
        };
        changes.put(
            BY_TYPE,
            &key,
            json!({"aggregateType": event.aggregate_type, "eventType": event.event_type, "count": count + 1}),
        );
        changes.zincr(PER_AGGREGATE_TYPE, &event.aggregate_type, 1.0).await?;
        Ok(())
    }
}
