//! `job-runs`: the console's job history (spec 5.3, 13.4), one document
//! per run, from the `job-run` aggregates' events.
//!
//! - collection `runs`: `<queue>:<jobId>` → [`JobRunDocument`] (queryable by
//!   queue, name, status, timestamp and finishedOn: what the statistics, the
//!   orphan check and the history cleanup select by; pages go by `by-created`)
//! - sorted set `by-created`: run key → `createdAt` (ms), the newest-first pages
//! - sorted sets `by-created:<queue>:<name>`: the same per job type, whose
//!   first member is the newest run of that type (`distinct=true`)
//! - sorted set `types`: `<queue>:<name>` → number of runs of that type
//! - collection `stats-days` ([`counters`]): runs per day of creation
//!
//! Times are the events' `occurred_at`, so a replay reproduces every document.

use super::{counters, iso, occurred_at};
use crate::{ChangeSet, FieldKind, Projection, ProjectionError, QueryField, Queryable, RecordedEvent};
use aggregates::kippenstummel::job_run::{JobRunEvent, JobStatus};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const NAME: &str = "job-runs";
pub const RUNS: &str = "runs";
pub const BY_CREATED: &str = "by-created";
pub const TYPES: &str = "types";
/// Per-day counter of runs in [`counters::DAYS`].
pub const RUNS_COUNTER: &str = "runs";
/// Log lines kept per run; older ones are dropped first. A run logs a few
/// lines per unit of work, so this holds a whole import's log.
pub const MAX_LOG_LINES: usize = 500;

pub const QUERYABLE: &[Queryable] = &[Queryable {
    collection: RUNS,
    fields: &[
        QueryField {
            path: "queue",
            kind: FieldKind::Text,
        },
        QueryField {
            path: "name",
            kind: FieldKind::Text,
        },
        QueryField {
            path: "status",
            kind: FieldKind::Text,
        },
        QueryField {
            path: "timestamp",
            kind: FieldKind::Number,
        },
        QueryField {
            path: "finishedOn",
            kind: FieldKind::Number,
        },
    ],
    position: None,
}];

/// The queryable `runs` collection.
pub fn runs() -> &'static Queryable {
    &QUERYABLE[0]
}

/// The sorted set of one job type's runs.
pub fn by_created_of(queue: &str, name: &str) -> String {
    format!("{BY_CREATED}:{queue}:{name}")
}

/// A run as the `runs` collection stores it. Field order is the document's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRunDocument {
    pub job_id: String,
    pub name: String,
    pub queue: String,
    pub data: Value,
    pub status: JobStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_reason: Option<String>,
    /// Attempts started (the first run is attempt 1; each resume adds one).
    pub attempts_made: u32,
    /// When the job was created, epoch ms (BullMQ's `timestamp`).
    pub timestamp: i64,
    /// When the run ended (completed, failed, orphaned), epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_on: Option<i64>,
    pub logs: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Not shown to the console: units of work done (for resuming) and the
    /// instance running it.
    pub done: u64,
    pub instance: String,
}

pub struct JobRuns;

fn decode(event: &RecordedEvent) -> Result<Option<JobRunEvent>, ProjectionError> {
    if event.aggregate_type != "job-run" {
        return Ok(None);
    }
    serde_json::from_value(event.payload.clone())
        .map(Some)
        .map_err(|e| ProjectionError::bad_event(event, e))
}

async fn read(changes: &ChangeSet<'_>, event: &RecordedEvent) -> Result<Option<JobRunDocument>, ProjectionError> {
    match changes.get(RUNS, &event.aggregate_id).await? {
        Some(doc) => serde_json::from_value(doc)
            .map(Some)
            .map_err(|e| ProjectionError::bad_event(event, format!("stored run: {e}"))),
        None => Ok(None),
    }
}

fn millis(iso_time: &str) -> f64 {
    chrono::DateTime::parse_from_rfc3339(iso_time).map_or(0.0, |t| t.timestamp_millis() as f64)
}

async fn start(changes: &mut ChangeSet<'_>, event: &RecordedEvent, doc: JobRunDocument) -> Result<(), ProjectionError> {
    let key = &event.aggregate_id;
    let created = millis(&doc.created_at);
    changes.zadd(BY_CREATED, key, created);
    changes.zadd(&by_created_of(&doc.queue, &doc.name), key, created);
    changes
        .zincr(TYPES, &format!("{}:{}", doc.queue, doc.name), 1.0)
        .await?;
    counters::add_day(changes, event, &doc.created_at, RUNS_COUNTER, 1.0).await?;
    changes.put(RUNS, key, serde_json::to_value(&doc).expect("run documents serialize"));
    Ok(())
}

async fn delete(
    changes: &mut ChangeSet<'_>,
    event: &RecordedEvent,
    doc: &JobRunDocument,
) -> Result<(), ProjectionError> {
    let key = &event.aggregate_id;
    changes.zrem(BY_CREATED, key);
    changes.zrem(&by_created_of(&doc.queue, &doc.name), key);
    let kind = format!("{}:{}", doc.queue, doc.name);
    if changes.zincr(TYPES, &kind, -1.0).await? <= 0.0 {
        changes.zrem(TYPES, &kind);
    }
    counters::add_day(changes, event, &doc.created_at, RUNS_COUNTER, -1.0).await?;
    changes.delete(RUNS, key);
    Ok(())
}

fn log(doc: &mut JobRunDocument, line: String) {
    doc.logs.push(line);
    if doc.logs.len() > MAX_LOG_LINES {
        let excess = doc.logs.len() - MAX_LOG_LINES;
        doc.logs.drain(..excess);
    }
}

#[async_trait]
impl Projection for JobRuns {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        1
    }

    fn queryable(&self) -> &'static [Queryable] {
        QUERYABLE
    }

    async fn apply(&self, event: &RecordedEvent, changes: &mut ChangeSet<'_>) -> Result<(), ProjectionError> {
        let Some(run_event) = decode(event)? else {
            return Ok(());
        };
        let at = occurred_at(event);
        let now = iso(at);
        if let JobRunEvent::JobStarted {
            queue,
            name,
            data,
            timestamp,
            instance,
        } = run_event
        {
            let job_id = event
                .aggregate_id
                .strip_prefix(&format!("{queue}:"))
                .unwrap_or(&event.aggregate_id)
                .to_owned();
            let doc = JobRunDocument {
                job_id,
                name,
                queue,
                data,
                status: JobStatus::Running,
                result: None,
                failed_reason: None,
                attempts_made: 1,
                timestamp,
                finished_on: None,
                logs: Vec::new(),
                created_at: now.clone(),
                updated_at: now,
                done: 0,
                instance,
            };
            return start(changes, event, doc).await;
        }
        // Events of a run the model does not hold change nothing (the
        // aggregate never emits them; failing would stop the projection).
        let Some(mut doc) = read(changes, event).await? else {
            return Ok(());
        };
        let finish = |doc: &mut JobRunDocument, status| {
            doc.status = status;
            doc.finished_on = Some(at.timestamp_millis());
        };
        match run_event {
            JobRunEvent::JobStarted { .. } => unreachable!("handled above"),
            JobRunEvent::JobLogged { line } => log(&mut doc, line),
            JobRunEvent::JobProgressed { done } => doc.done = done,
            JobRunEvent::JobCompleted { result } => {
                finish(&mut doc, JobStatus::Completed);
                doc.result = result;
            }
            JobRunEvent::JobFailed { reason } => {
                finish(&mut doc, JobStatus::Failed);
                doc.failed_reason = Some(reason);
            }
            JobRunEvent::JobOrphaned {} => finish(&mut doc, JobStatus::Orphaned),
            JobRunEvent::JobResumed { instance } => {
                doc.status = JobStatus::Running;
                doc.finished_on = None;
                doc.failed_reason = None;
                doc.attempts_made += 1;
                doc.instance = instance;
            }
            JobRunEvent::JobRunDeleted {} => return delete(changes, event, &doc).await,
        }
        doc.updated_at = now;
        changes.put(
            RUNS,
            &event.aggregate_id,
            serde_json::to_value(&doc).expect("run documents serialize"),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{run, EventLog, MemoryStore};
    use crate::{Namespace, ReadStore};
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    const KEY: &str = "cvm-import:1";

    fn ns() -> Namespace {
        Namespace::new(NAME, 1)
    }

    fn started() -> JobRunEvent {
        JobRunEvent::JobStarted {
            queue: "cvm-import".into(),
            name: "manual".into(),
            data: json!({"cvms": []}),
            timestamp: 5,
            instance: "a".into(),
        }
    }

    async fn fold(events: Vec<JobRunEvent>) -> MemoryStore {
        let mut log = EventLog::starting(Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).unwrap());
        for event in events {
            let payload = serde_json::to_value(&event).unwrap();
            // The serde tag is the event type.
            let kind = payload["type"].as_str().unwrap().to_owned();
            log.push("job-run", KEY, &kind, payload);
        }
        let store = MemoryStore::default();
        run(&JobRuns, &store, &ns(), log.events(), 2).await.unwrap();
        store
    }

    async fn doc(store: &MemoryStore) -> Option<JobRunDocument> {
        store
            .get_doc(&ns(), RUNS, KEY)
            .await
            .unwrap()
            .map(|d| serde_json::from_value(d).unwrap())
    }

    #[tokio::test]
    async fn a_run_goes_from_running_to_its_end_with_its_log() {
        let store = fold(vec![
            started(),
            JobRunEvent::JobLogged {
                line: "Importing".into(),
            },
            JobRunEvent::JobOrphaned {},
            JobRunEvent::JobResumed { instance: "b".into() },
            JobRunEvent::JobCompleted { result: Some(json!(3)) },
        ])
        .await;
        let run = doc(&store).await.expect("the run");
        assert_eq!(run.job_id, "1");
        assert_eq!(run.status, JobStatus::Completed);
        assert_eq!(run.attempts_made, 2);
        assert_eq!(run.logs, vec!["Importing".to_owned()]);
        assert_eq!(run.result, Some(json!(3)));
        assert!(run.finished_on.is_some());
        assert_eq!(run.instance, "b");
        assert_eq!(store.zcard(&ns(), BY_CREATED).await.unwrap(), 1);
        assert_eq!(
            store.zscore(&ns(), TYPES, "cvm-import:manual").await.unwrap(),
            Some(1.0)
        );
    }

    #[tokio::test]
    async fn a_deleted_run_leaves_nothing_behind() {
        let store = fold(vec![
            started(),
            JobRunEvent::JobFailed { reason: "x".into() },
            JobRunEvent::JobRunDeleted {},
        ])
        .await;
        assert!(doc(&store).await.is_none());
        assert!(
            store.dump(&ns()).values().all(|c| c.is_empty()),
            "{:?}",
            store.dump(&ns())
        );
        assert_eq!(store.zcard(&ns(), BY_CREATED).await.unwrap(), 0);
        assert_eq!(store.zcard(&ns(), TYPES).await.unwrap(), 0);
    }
}
