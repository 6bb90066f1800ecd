//! Totals and per-day counts kept beside a read model, for the KMC
//! statistics (spec 5.4): a statistics request reads a handful of
//! documents instead of counting a collection. A projection keeps them in
//! the same batch as the documents they count, so both always agree at
//! every checkpoint, and a replay rebuilds them exactly.
//!
//! - collection `stats-totals`: key `all` → `{<counter>: number, …}`
//! - collection `stats-days`: key `YYYY-MM-DD` (UTC) → `{<counter>: number, …}`
//!
//! Counters that reach zero are dropped from their document, and a day
//! document without counters is deleted, so removals leave nothing behind.

use crate::{ChangeSet, ProjectionError, RecordedEvent};
use serde_json::{Map, Value};

pub const TOTALS: &str = "stats-totals";
pub const DAYS: &str = "stats-days";
/// The one document of [`TOTALS`].
pub const ALL: &str = "all";

/// The UTC day of an RFC 3339 time as the read models store it
/// (`2026-01-01T10:00:00.000Z` → `2026-01-01`).
pub fn day_of(iso: &str) -> &str {
    iso.get(..10).unwrap_or(iso)
}

/// Adds `delta` to `counter` of document `key` in `collection`.
pub async fn add(
    changes: &mut ChangeSet<'_>,
    event: &RecordedEvent,
    collection: &str,
    key: &str,
    counter: &str,
    delta: f64,
) -> Result<(), ProjectionError> {
    // A NaN rating (which the credibility rules can produce from NaN
    // inputs, as the original did) must not poison a sum for good.
    if delta == 0.0 || !delta.is_finite() {
        return Ok(());
    }
    let mut doc = match changes.get(collection, key).await? {
        Some(Value::Object(doc)) => doc,
        Some(_) => {
            return Err(ProjectionError::bad_event(
                event,
                format!("{collection}/{key} is not an object"),
            ))
        }
        None => Map::new(),
    };
    let value = doc.get(counter).and_then(Value::as_f64).unwrap_or(0.0) + delta;
    // Sums of integers stay integers in the document (exact below 2^53).
    if value == 0.0 {
        doc.remove(counter);
    } else if value.fract() == 0.0 && value.abs() < 9.0e15 {
        doc.insert(counter.to_owned(), Value::from(value as i64));
    } else {
        doc.insert(counter.to_owned(), Value::from(value));
    }
    if doc.is_empty() {
        changes.delete(collection, key);
    } else {
        changes.put(collection, key, Value::Object(doc));
    }
    Ok(())
}

/// Adds `delta` to a total.
pub async fn add_total(
    changes: &mut ChangeSet<'_>,
    event: &RecordedEvent,
    counter: &str,
    delta: f64,
) -> Result<(), ProjectionError> {
    add(changes, event, TOTALS, ALL, counter, delta).await
}

/// Adds `delta` to the count of the day of `at` (an RFC 3339 time).
pub async fn add_day(
    changes: &mut ChangeSet<'_>,
    event: &RecordedEvent,
    at: &str,
    counter: &str,
    delta: f64,
) -> Result<(), ProjectionError> {
    add(changes, event, DAYS, day_of(at), counter, delta).await
}
