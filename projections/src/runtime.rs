//! The projector runtime: catch-up, live tail, leases, rebuilds.

use crate::{
    ActiveModel, ChangeSet, EventSource, Namespace, Projection, ProjectionError, ReadStore, RecordedEvent, Scratch,
    SourceError, StoreError,
};
use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[derive(Debug, Clone)]
pub struct ProjectorConfig {
    /// Events read and committed per batch.
    pub batch_size: usize,
    /// How often an idle projector looks for events appended by other
    /// instances (appends in this process wake it at once).
    pub poll_interval: Duration,
    /// A lease not renewed within this time may be taken over.
    pub lease_ttl: Duration,
    /// Pause after a failed batch before the next try.
    pub retry_backoff: Duration,
    /// After a rebuild swaps generations, the old one is dropped only after
    /// this pause, so queries that resolved it just before the swap still
    /// read a complete model.
    pub retire_delay: Duration,
    /// Who holds the lease (instance id).
    pub owner: String,
}

impl Default for ProjectorConfig {
    fn default() -> Self {
        Self {
            batch_size: 500,
            poll_interval: Duration::from_millis(500),
            lease_ttl: Duration::from_secs(15),
            retry_backoff: Duration::from_secs(1),
            retire_delay: Duration::from_secs(1),
            owner: format!("pid-{}", std::process::id()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectionState {
    /// Not yet looked at the store.
    Starting,
    /// Another instance holds the lease (or runs a newer version).
    Standby,
    /// Building a fresh generation; queries still see the previous one.
    Rebuilding,
    /// Applying events as they come.
    Live,
    /// The last batch failed; retrying.
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProjectionStatus {
    pub name: String,
    pub version: u32,
    pub state: ProjectionState,
    /// Position of the last event applied to the active (or rebuilding) model.
    pub checkpoint: u64,
    /// Highest position seen in the log.
    pub head: u64,
    pub error: Option<String>,
}

impl ProjectionStatus {
    pub fn lag(&self) -> u64 {
        self.head.saturating_sub(self.checkpoint)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RebuildReport {
    pub projection: String,
    pub generation: u64,
    pub from: u64,
    pub checkpoint: u64,
    pub events: u64,
    #[serde(skip)]
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("lease {0} was lost to another instance")]
    LeaseLost(String),
    #[error("the log's head is {head}, cannot start a rebuild at {from}")]
    BeyondHead { from: u64, head: u64 },
}

/// Waits for a commit spawned by `finish_rebuild`, if any.
async fn join_commit(commit: Option<tokio::task::JoinHandle<Result<(), StoreError>>>) -> Result<(), StoreError> {
    match commit {
        Some(handle) => handle
            .await
            .map_err(|e| StoreError::Other(format!("commit task: {e}")))?,
        None => Ok(()),
    }
}

/// Whether a batch goes to the active model or to a generation being rebuilt,
/// with the rebuild's scratch area (see [`ChangeSet::is_rebuild`]).
enum Mode<'a> {
    Live,
    Rebuild(&'a mut Scratch),
}

enum Tick {
    Progressed,
    Idle,
    Standby,
}

pub struct Projector {
    projection: Arc<dyn Projection>,
    store: Arc<dyn ReadStore>,
    source: Arc<dyn EventSource>,
    config: ProjectorConfig,
    status: watch::Sender<ProjectionStatus>,
    /// Events the next live batch may take (see [`Projection::catch_up_growth`]).
    live_limit: AtomicUsize,
}

impl Projector {
    pub fn new(
        projection: Arc<dyn Projection>,
        store: Arc<dyn ReadStore>,
        source: Arc<dyn EventSource>,
        config: ProjectorConfig,
    ) -> Self {
        let status = ProjectionStatus {
            name: projection.name().to_owned(),
            version: projection.version(),
            state: ProjectionState::Starting,
            checkpoint: 0,
            head: 0,
            error: None,
        };
        Self {
            projection,
            store,
            source,
            live_limit: AtomicUsize::new(config.batch_size),
            config,
            status: watch::Sender::new(status),
        }
    }

    /// Prepares the store for the projection's queryable collections (see
    /// [`ReadStore::declare`]); before the first commit or query.
    pub async fn declare(&self) -> Result<(), StoreError> {
        self.store.declare(self.name(), self.projection.queryable()).await
    }

    pub fn name(&self) -> &'static str {
        self.projection.name()
    }

    pub fn store(&self) -> &Arc<dyn ReadStore> {
        &self.store
    }

    pub fn status(&self) -> watch::Receiver<ProjectionStatus> {
        self.status.subscribe()
    }

    fn live_lease(&self) -> String {
        format!("projector:{}", self.name())
    }

    fn rebuild_lease(&self) -> String {
        format!("rebuild:{}", self.name())
    }

    /// Runs until `shutdown` turns true: takes the lease, rebuilds when the
    /// stored model is missing or older, then applies new events as they are
    /// appended (`wake` carries the head position of in-process appends) or,
    /// as a fallback, every poll interval. Finishes the batch in hand before
    /// returning and releases the lease.
    pub async fn run(self: Arc<Self>, mut wake: watch::Receiver<u64>, mut shutdown: watch::Receiver<bool>) {
        let lease = self.live_lease();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let pause = match self.tick(&lease).await {
                Ok(Tick::Progressed) => continue,
                Ok(Tick::Idle) => self.config.poll_interval,
                Ok(Tick::Standby) => self.config.lease_ttl / 3,
                Err(error) => {
                    tracing::error!(projection = self.name(), %error, "projector batch failed");
                    self.status.send_modify(|s| {
                        s.state = ProjectionState::Failed;
                        s.error = Some(error.to_string());
                    });
                    self.config.retry_backoff
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                changed = wake.changed() => if changed.is_err() { tokio::time::sleep(pause).await },
                _ = shutdown.changed() => {}
            }
        }
        for name in [lease, self.rebuild_lease()] {
            if let Err(error) = self.store.release_lease(&name, &self.config.owner).await {
                tracing::warn!(projection = self.name(), %error, "could not release lease");
            }
        }
    }

    async fn tick(&self, lease: &str) -> Result<Tick, RunError> {
        if !self
            .store
            .try_lease(lease, &self.config.owner, self.config.lease_ttl)
            .await?
        {
            self.status.send_modify(|s| s.state = ProjectionState::Standby);
            return Ok(Tick::Standby);
        }
        let version = self.projection.version();
        match self.store.active(self.name()).await? {
            Some(active) if active.version == version => {
                let ns = Namespace::new(self.name(), active.generation);
                let applied = self.step(&ns, Mode::Live).await?;
                if applied > 0 {
                    return Ok(Tick::Progressed);
                }
                let head = self.source.head().await?;
                let checkpoint = self.store.checkpoint(&ns).await?;
                self.status.send_modify(|s| {
                    s.state = ProjectionState::Live;
                    s.error = None;
                    s.head = s.head.max(head);
                    s.checkpoint = checkpoint;
                });
                Ok(if checkpoint < head {
                    Tick::Progressed
                } else {
                    Tick::Idle
                })
            }
            Some(active) if active.version > version => {
                tracing::warn!(
                    projection = self.name(),
                    stored = active.version,
                    ours = version,
                    "a newer version of this projection is active; standing by"
                );
                self.status.send_modify(|s| s.state = ProjectionState::Standby);
                Ok(Tick::Standby)
            }
            _ => {
                let lease = lease.to_owned();
                self.rebuild(0, &[lease], &mut |_, _| {}).await?;
                Ok(Tick::Progressed)
            }
        }
    }

    /// Applies the next batch after the namespace's checkpoint. Returns how
    /// many events it applied. Safe to race: a batch committed by another
    /// runner meanwhile makes this one fail with `StoreError::Fenced`.
    pub async fn apply_next_batch(&self, ns: &Namespace) -> Result<usize, RunError> {
        self.step(ns, Mode::Live).await
    }

    async fn step(&self, ns: &Namespace, mode: Mode<'_>) -> Result<usize, RunError> {
        let checkpoint = self.store.checkpoint(ns).await?;
        let limit = match mode {
            Mode::Live => self.live_limit.load(Ordering::Relaxed),
            Mode::Rebuild(_) => self.config.batch_size,
        };
        let events = self.source.read_after(checkpoint, limit).await?;
        if let Mode::Live = mode {
            // Behind (a full batch): double the next one, up to the projection's limit.
            let most = self.config.batch_size * self.projection.catch_up_growth().max(1);
            let next = if events.len() >= limit {
                (limit * 2).min(most)
            } else {
                self.config.batch_size
            };
            self.live_limit.store(next, Ordering::Relaxed);
        }
        if events.is_empty() {
            return Ok(0);
        }
        let new = self.apply_batch(ns, checkpoint, &events, mode).await?;
        self.status.send_modify(|s| {
            s.checkpoint = new;
            s.head = s.head.max(new);
            s.error = None;
        });
        Ok(events.len())
    }

    async fn apply_batch(
        &self,
        ns: &Namespace,
        checkpoint: u64,
        events: &[RecordedEvent],
        mode: Mode<'_>,
    ) -> Result<u64, RunError> {
        let mut changes = match mode {
            Mode::Live => ChangeSet::new(self.store.as_ref(), ns),
            Mode::Rebuild(scratch) => ChangeSet::for_rebuild(self.store.as_ref(), ns, scratch),
        };
        for event in events {
            self.projection.apply(event, &mut changes).await?;
        }
        // Deferred per-batch work; committed with the batch and its checkpoint below.
        self.projection.finish_batch(&mut changes).await?;
        let new = events.last().map_or(checkpoint, |e| e.position);
        self.store.commit(ns, checkpoint, new, &changes.into_changes()).await?;
        Ok(new)
    }

    /// Builds the projection from `from` (0 = the whole log) into a fresh
    /// generation, then makes it the active one and drops the previous one.
    /// Holds the rebuild lease (and renews `extra_leases`) throughout, so two
    /// rebuilds of one projection never run at once. `progress` is called
    /// after every batch with (checkpoint, head).
    pub async fn rebuild(
        &self,
        from: u64,
        extra_leases: &[String],
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<RebuildReport, RunError> {
        let started = Instant::now();
        let mut leases = vec![self.rebuild_lease()];
        leases.extend_from_slice(extra_leases);
        self.renew(&leases).await?;
        let mut head = self.source.head().await?;
        if from > head {
            return Err(RunError::BeyondHead { from, head });
        }
        self.status.send_modify(|s| {
            s.state = ProjectionState::Rebuilding;
            s.checkpoint = from;
            s.head = head;
        });
        let generation = self.store.next_generation(self.name()).await?;
        let ns = Namespace::new(self.name(), generation);
        if from > 0 {
            self.store.commit(&ns, 0, from, &[]).await?;
        }
        let mut events = 0u64;
        let mut scratch = Scratch::default();
        let result: Result<u64, RunError> = async {
            let checkpoint = loop {
                let applied = self.step(&ns, Mode::Rebuild(&mut scratch)).await?;
                events += applied as u64;
                let checkpoint = self.store.checkpoint(&ns).await?;
                if applied == 0 {
                    head = self.source.head().await?;
                    if checkpoint >= head {
                        progress(checkpoint, head);
                        break checkpoint;
                    }
                } else {
                    head = head.max(checkpoint);
                }
                progress(checkpoint, head);
                self.renew(&leases).await?;
            };
            self.finish_rebuild(&ns, checkpoint, &leases, &mut scratch).await?;
            Ok(checkpoint)
        }
        .await;
        let checkpoint = match result {
            Ok(checkpoint) => checkpoint,
            Err(error) => {
                // Leave nothing half-built behind.
                if let Err(drop_error) = self.store.drop_generation(&ns).await {
                    tracing::warn!(projection = self.name(), %drop_error, "could not drop unfinished generation");
                }
                return Err(error);
            }
        };
        let previous = self.store.active(self.name()).await?;
        self.store
            .activate(
                self.name(),
                ActiveModel {
                    generation,
                    version: self.projection.version(),
                },
            )
            .await?;
        if let Some(previous) = previous.filter(|p| p.generation != generation) {
            tokio::time::sleep(self.config.retire_delay).await;
            self.store
                .drop_generation(&Namespace::new(self.name(), previous.generation))
                .await?;
        }
        self.store
            .release_lease(&self.rebuild_lease(), &self.config.owner)
            .await?;
        self.status.send_modify(|s| {
            s.state = ProjectionState::Live;
            s.checkpoint = checkpoint;
            s.error = None;
        });
        tracing::info!(
            projection = self.name(),
            generation,
            checkpoint,
            events,
            "projection rebuilt"
        );
        Ok(RebuildReport {
            projection: self.name().to_owned(),
            generation,
            from,
            checkpoint,
            events,
            elapsed: started.elapsed(),
        })
    }

    /// The rounds of [`Projection::finish_rebuild`], each committed at
    /// `checkpoint`. A round's commit runs in its own task while the next
    /// round is computed (both are CPU work: serializing and storing
    /// documents, computing the next ones), so a round must not read what
    /// the one before it wrote; they are committed in order.
    async fn finish_rebuild(
        &self,
        ns: &Namespace,
        checkpoint: u64,
        leases: &[String],
        scratch: &mut Scratch,
    ) -> Result<(), RunError> {
        let mut committing: Option<tokio::task::JoinHandle<Result<(), StoreError>>> = None;
        let finished = loop {
            let mut changes = ChangeSet::for_rebuild(self.store.as_ref(), ns, scratch);
            let round = self.projection.finish_rebuild(&mut changes).await;
            // Before anything else, so no commit is left running when this returns.
            if let Err(error) = join_commit(committing.take()).await {
                break Err(error.into());
            }
            let more = match round {
                Ok(more) => more,
                Err(error) => break Err(error.into()),
            };
            let (store, ns, changes) = (self.store.clone(), ns.clone(), changes.into_changes());
            committing = Some(tokio::spawn(async move {
                store.commit(&ns, checkpoint, checkpoint, &changes).await
            }));
            if !more {
                break Ok(());
            }
            if let Err(error) = self.renew(leases).await {
                break Err(error);
            }
        };
        let last = join_commit(committing).await;
        finished.and(last.map_err(RunError::from))
    }

    async fn renew(&self, leases: &[String]) -> Result<(), RunError> {
        for lease in leases {
            if !self
                .store
                .try_lease(lease, &self.config.owner, self.config.lease_ttl)
                .await?
            {
                return Err(RunError::LeaseLost(lease.clone()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{EventLog, MemoryStore};
    use async_trait::async_trait;
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    struct Log(Vec<RecordedEvent>);

    #[async_trait]
    impl EventSource for Log {
        async fn read_after(&self, after: u64, limit: usize) -> Result<Vec<RecordedEvent>, SourceError> {
            Ok(self
                .0
                .iter()
                .filter(|e| e.position > after)
                .take(limit)
                .cloned()
                .collect())
        }

        async fn head(&self) -> Result<u64, SourceError> {
            Ok(self.0.last().map_or(0, |e| e.position))
        }
    }

    /// Counts a batch's events in the scratch area and writes the count once per batch.
    struct BatchSizes;

    #[derive(Default)]
    struct Seen(Vec<u64>);

    #[async_trait]
    impl Projection for BatchSizes {
        fn name(&self) -> &'static str {
            "batch-sizes"
        }

        fn version(&self) -> u32 {
            1
        }

        async fn apply(&self, event: &RecordedEvent, changes: &mut ChangeSet<'_>) -> Result<(), ProjectionError> {
            changes.scratch::<Seen>().0.push(event.position);
            Ok(())
        }

        async fn finish_batch(&self, changes: &mut ChangeSet<'_>) -> Result<(), ProjectionError> {
            let seen = std::mem::take(&mut changes.scratch::<Seen>().0);
            let last = seen.last().copied().unwrap_or_default();
            changes.put("batches", &format!("{last:03}"), json!(seen));
            Ok(())
        }
    }

    #[tokio::test]
    async fn finish_batch_runs_once_per_batch_after_its_last_event_and_is_committed_with_it() {
        let mut log = EventLog::starting(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        for i in 0..7 {
            log.push("probe", &format!("p{i}"), "Recorded", json!({}));
        }
        let store = Arc::new(MemoryStore::default());
        let projector = Projector::new(
            Arc::new(BatchSizes),
            store.clone(),
            Arc::new(Log(log.events().to_vec())),
            ProjectorConfig {
                batch_size: 3,
                ..ProjectorConfig::default()
            },
        );
        let report = projector.rebuild(0, &[], &mut |_, _| {}).await.unwrap();
        assert_eq!(report.checkpoint, 7);
        let ns = Namespace::new("batch-sizes", report.generation);
        let batches = store.dump(&ns).remove("batches").unwrap();
        let batches: Vec<_> = batches.into_iter().collect();
        assert_eq!(
            batches,
            vec![
                ("003".to_owned(), json!([1, 2, 3])),
                ("006".to_owned(), json!([4, 5, 6])),
                ("007".to_owned(), json!([7])),
            ]
        );
    }
}
