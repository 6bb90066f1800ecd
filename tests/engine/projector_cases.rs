//! Projector runtime cases, on a fresh read-model store; the log is an
//! embedded event store in the case's temporary directory.

use aggregates::probe::{Probe, ProbeCommand};
use async_trait::async_trait;
use projections::{
    ChangeSet, EventSource, Namespace, Projection, ProjectionError, ProjectionState, Projector, ProjectorConfig,
    ReadStore, RecordedEvent, StoreError,
};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use stummel::event_store::{CommandBus, CommandMetadata, EventRepository};
use tokio::sync::watch;

/// Sum and count of the values per probe aggregate; version 2 counts double.
struct Sums {
    version: u32,
    poison: Option<i64>,
}

#[async_trait]
impl Projection for Sums {
    fn name(&self) -> &'static str {
        "sums"
    }

    fn version(&self) -> u32 {
        self.version
    }

    async fn apply(&self, event: &RecordedEvent, changes: &mut ChangeSet<'_>) -> Result<(), ProjectionError> {
        let value = event.payload["Recorded"]["value"]
            .as_i64()
            .ok_or_else(|| ProjectionError::bad_event(event, "no value"))?;
        if Some(value) == self.poison {
            return Err(ProjectionError::bad_event(event, "poisoned value"));
        }
        let weight = self.version as i64;
        let doc = changes
            .get("sums", &event.aggregate_id)
            .await?
            .unwrap_or(json!({"sum": 0, "count": 0}));
        let sum = doc["sum"].as_i64().unwrap() + value * weight;
        let count = doc["count"].as_i64().unwrap() + 1;
        changes.put("sums", &event.aggregate_id, json!({"sum": sum, "count": count}));
        changes
            .zincr("by-sum", &event.aggregate_id, (value * weight) as f64)
            .await?;
        changes.zincr("totals", "events", 1.0).await?;
        Ok(())
    }
}

fn config(owner: &str) -> ProjectorConfig {
    ProjectorConfig {
        batch_size: 50,
        poll_interval: Duration::from_secs(3600), // only in-process wake-ups move it
        lease_ttl: Duration::from_millis(600),
        retry_backoff: Duration::from_millis(50),
        retire_delay: Duration::from_millis(200),
        owner: owner.into(),
    }
}

fn projector(store: &Arc<dyn ReadStore>, repo: &EventRepository, version: u32, owner: &str) -> Arc<Projector> {
    Arc::new(Projector::new(
        Arc::new(Sums { version, poison: None }),
        store.clone(),
        Arc::new(repo.clone()),
        config(owner),
    ))
}

struct Log {
    repo: EventRepository,
    bus: CommandBus<Probe>,
}

impl Log {
    fn new(dir: &Path) -> Self {
        let repo = crate::embedded_events(&dir.join("log"));
        let bus = CommandBus::new(repo.clone(), 0, 20, (), stummel::metrics::Metrics::new());
        Self { repo, bus }
    }

    /// `n` commands with values 1..=n over `aggregates` aggregates.
    async fn record(&self, n: i64, aggregates: i64) {
        for i in 1..=n {
            let metadata = CommandMetadata::new("t", None, chrono::Utc::now());
            self.bus
                .execute(
                    &format!("p{}", i % aggregates),
                    ProbeCommand::Record { value: i },
                    &metadata,
                )
                .await
                .unwrap();
        }
    }
}

fn run(p: &Arc<Projector>, repo: &EventRepository) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    (tx, tokio::spawn(p.clone().run(repo.appended(), rx)))
}

async fn caught_up(p: &Arc<Projector>, repo: &EventRepository) {
    let head = repo.head().await.unwrap();
    let mut status = p.status();
    tokio::time::timeout(
        Duration::from_secs(30),
        status.wait_for(|s| s.state == ProjectionState::Live && s.checkpoint >= head),
    )
    .await
    .unwrap_or_else(|_| panic!("not caught up to {head}: {:?}", p.status().borrow()))
    .unwrap();
}

async fn active_ns(store: &Arc<dyn ReadStore>) -> Namespace {
    let active = store.active("sums").await.unwrap().expect("an active model");
    Namespace::new("sums", active.generation)
}

/// Total events and sum over every aggregate, as the active model says.
async fn totals(store: &Arc<dyn ReadStore>) -> (i64, i64) {
    let ns = active_ns(store).await;
    let docs = store.list_docs(&ns, "sums").await.unwrap();
    let count = docs.iter().map(|(_, d)| d["count"].as_i64().unwrap()).sum();
    let sum = docs.iter().map(|(_, d)| d["sum"].as_i64().unwrap()).sum();
    (count, sum)
}

fn triangle(n: i64) -> i64 {
    n * (n + 1) / 2
}

pub async fn projector_tails_the_log_live(store: Arc<dyn ReadStore>, dir: &Path) {
    let log = Log::new(dir);
    let p = projector(&store, &log.repo, 1, "a");
    let (stop, task) = run(&p, &log.repo);
    caught_up(&p, &log.repo).await; // builds the (empty) model
    log.record(25, 4).await;
    caught_up(&p, &log.repo).await; // no polling: woken by the appends
    assert_eq!(totals(&store).await, (25, triangle(25)));
    let ns = active_ns(&store).await;
    assert_eq!(store.zscore(&ns, "totals", "events").await.unwrap(), Some(25.0));
    stop.send(true).unwrap();
    task.await.unwrap();
}

pub async fn restart_resumes_without_double_counting(store: Arc<dyn ReadStore>, dir: &Path) {
    let log = Log::new(dir);
    log.record(40, 3).await;
    let first = projector(&store, &log.repo, 1, "a");
    let (stop, task) = run(&first, &log.repo);
    caught_up(&first, &log.repo).await;
    stop.send(true).unwrap();
    task.await.unwrap();

    log.record(30, 3).await; // while nobody projects
    let second = projector(&store, &log.repo, 1, "b");
    let (stop, task) = run(&second, &log.repo);
    caught_up(&second, &log.repo).await;
    assert_eq!(totals(&store).await, (70, triangle(40) + triangle(30)));
    stop.send(true).unwrap();
    task.await.unwrap();
}

pub async fn duplicate_delivery_is_fenced(store: Arc<dyn ReadStore>, dir: &Path) {
    let log = Log::new(dir);
    let p = projector(&store, &log.repo, 1, "a");
    p.rebuild(0, &[], &mut |_, _| {}).await.unwrap();
    log.record(300, 5).await;
    // Two runners (as after a lost lease) apply batches to the same model at
    // the same time: each batch lands once, the loser of a race is fenced.
    let ns = active_ns(&store).await;
    let q = projector(&store, &log.repo, 1, "b");
    let mut fenced = 0;
    loop {
        let (a, b) = tokio::join!(p.apply_next_batch(&ns), q.apply_next_batch(&ns));
        let mut applied = 0;
        for outcome in [a, b] {
            match outcome {
                Ok(n) => applied += n,
                Err(projections::RunError::Store(StoreError::Fenced { .. })) => fenced += 1,
                Err(other) => panic!("{other}"),
            }
        }
        if applied == 0 && store.checkpoint(&ns).await.unwrap() >= log.repo.head().await.unwrap() {
            break;
        }
    }
    assert_eq!(totals(&store).await, (300, triangle(300)));
    assert_eq!(store.zscore(&ns, "totals", "events").await.unwrap(), Some(300.0));
    eprintln!("fenced batches: {fenced}");
}

pub async fn rebuild_matches_live_model_and_swaps_atomically(store: Arc<dyn ReadStore>, dir: &Path) {
    let log = Log::new(dir);
    log.record(400, 7).await;
    let p = projector(&store, &log.repo, 1, "a");
    let (stop, task) = run(&p, &log.repo);
    caught_up(&p, &log.repo).await;
    stop.send(true).unwrap();
    task.await.unwrap();
    let before = active_ns(&store).await;
    let live_docs = store.list_docs(&before, "sums").await.unwrap();
    let live_ranking = store.zrange_desc(&before, "by-sum", 0, 100).await.unwrap();

    // Readers watch the active model while it is rebuilt: they must only
    // ever see the complete model.
    let (done_tx, done_rx) = watch::channel(false);
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut reads = 0;
            while !*done_rx.borrow() {
                assert_eq!(
                    totals(&store).await,
                    (400, triangle(400)),
                    "a half-built model was visible"
                );
                reads += 1;
            }
            reads
        })
    };
    let mut calls = 0;
    let report = p.rebuild(0, &[], &mut |_, _| calls += 1).await.unwrap();
    done_tx.send(true).unwrap();
    assert!(reader.await.unwrap() > 0);
    assert!(calls >= 8, "progress reported per batch ({calls})");
    assert_eq!((report.checkpoint, report.events), (400, 400));
    let after = active_ns(&store).await;
    assert_ne!(after.generation, before.generation);
    assert_eq!(store.list_docs(&after, "sums").await.unwrap(), live_docs);
    assert_eq!(store.zrange_desc(&after, "by-sum", 0, 100).await.unwrap(), live_ranking);
    assert!(
        store.list_docs(&before, "sums").await.unwrap().is_empty(),
        "old generation dropped"
    );

    // A rebuild from a position leaves the earlier events out.
    let partial = p.rebuild(390, &[], &mut |_, _| {}).await.unwrap();
    assert_eq!(partial.events, 10);
    assert_eq!(totals(&store).await, (10, (391..=400).sum::<i64>()));
    assert!(p.rebuild(401, &[], &mut |_, _| {}).await.is_err(), "beyond the head");
}

pub async fn version_change_rebuilds_at_start(store: Arc<dyn ReadStore>, dir: &Path) {
    let log = Log::new(dir);
    log.record(20, 2).await;
    let v1 = projector(&store, &log.repo, 1, "a");
    let (stop, task) = run(&v1, &log.repo);
    caught_up(&v1, &log.repo).await;
    stop.send(true).unwrap();
    task.await.unwrap();
    assert_eq!(totals(&store).await, (20, triangle(20)));
    let old = active_ns(&store).await;

    let v2 = projector(&store, &log.repo, 2, "a");
    let (stop, task) = run(&v2, &log.repo);
    caught_up(&v2, &log.repo).await;
    assert_eq!(store.active("sums").await.unwrap().unwrap().version, 2);
    assert_eq!(totals(&store).await, (20, 2 * triangle(20)), "built by the new code");
    assert!(store.list_docs(&old, "sums").await.unwrap().is_empty());
    stop.send(true).unwrap();
    task.await.unwrap();

    // Old code meeting a newer model stands by instead of writing into it.
    let stale = projector(&store, &log.repo, 1, "c");
    let (stop, task) = run(&stale, &log.repo);
    let mut status = stale.status();
    tokio::time::timeout(
        Duration::from_secs(10),
        status.wait_for(|s| s.state == ProjectionState::Standby),
    )
    .await
    .unwrap()
    .unwrap();
    stop.send(true).unwrap();
    task.await.unwrap();
    assert_eq!(store.active("sums").await.unwrap().unwrap().version, 2);
}

pub async fn second_instance_takes_over_an_expired_lease(store: Arc<dyn ReadStore>, dir: &Path) {
    let log = Log::new(dir);
    log.record(10, 2).await;
    let a = projector(&store, &log.repo, 1, "a");
    let (_stop_a, task_a) = run(&a, &log.repo);
    caught_up(&a, &log.repo).await;
    let b = projector(&store, &log.repo, 1, "b");
    let (stop_b, task_b) = run(&b, &log.repo);
    let mut status_b = b.status();
    tokio::time::timeout(
        Duration::from_secs(10),
        status_b.wait_for(|s| s.state == ProjectionState::Standby),
    )
    .await
    .unwrap()
    .unwrap();
    // Instance a dies without releasing its lease.
    task_a.abort();
    let _ = task_a.await;
    log.record(15, 2).await;
    caught_up(&b, &log.repo).await;
    assert_eq!(totals(&store).await, (25, triangle(10) + (1..=15).sum::<i64>()));
    stop_b.send(true).unwrap();
    task_b.await.unwrap();
}

pub async fn failing_event_stops_the_projection_without_skipping(store: Arc<dyn ReadStore>, dir: &Path) {
    let log = Log::new(dir);
    log.record(30, 3).await;
    let p = Arc::new(Projector::new(
        Arc::new(Sums {
            version: 1,
            poison: Some(17),
        }),
        store.clone(),
        Arc::new(log.repo.clone()),
        ProjectorConfig {
            batch_size: 4,
            ..config("a")
        },
    ));
    // First build succeeds up to the poisoned event? No: a rebuild is all or
    // nothing, so the first model is never activated.
    let (stop, task) = run(&p, &log.repo);
    let mut status = p.status();
    let failed = tokio::time::timeout(
        Duration::from_secs(10),
        status.wait_for(|s| s.state == ProjectionState::Failed),
    )
    .await
    .unwrap()
    .unwrap()
    .clone();
    assert!(failed.error.unwrap().contains("poisoned value"));
    assert_eq!(
        store.active("sums").await.unwrap(),
        None,
        "a failed build is never swapped in"
    );
    stop.send(true).unwrap();
    task.await.unwrap();

    // Live: a model built before the poison stops right before it.
    let healthy = projector(&store, &log.repo, 1, "a");
    healthy.rebuild(0, &[], &mut |_, _| {}).await.unwrap();
    let ns = active_ns(&store).await;
    let poisoned = Arc::new(Projector::new(
        Arc::new(Sums {
            version: 1,
            poison: Some(35),
        }),
        store.clone(),
        Arc::new(log.repo.clone()),
        ProjectorConfig {
            batch_size: 4,
            ..config("a")
        },
    ));
    let (stop, task) = run(&poisoned, &log.repo);
    log.record(40, 3).await; // values 1..=40 again; 35 is poisoned
    let mut status = poisoned.status();
    tokio::time::timeout(
        Duration::from_secs(10),
        status.wait_for(|s| s.state == ProjectionState::Failed),
    )
    .await
    .unwrap()
    .unwrap();
    stop.send(true).unwrap();
    task.await.unwrap();
    let events = log.repo.read_after(0, 1000).await.unwrap();
    let poison_position = events
        .iter()
        .find(|e| e.position > 30 && e.payload["Recorded"]["value"] == 35)
        .unwrap()
        .position;
    let checkpoint = store.checkpoint(&ns).await.unwrap();
    assert!(
        checkpoint < poison_position,
        "never past the failing event ({checkpoint} vs {poison_position})"
    );
    assert!(
        checkpoint >= poison_position - 4,
        "everything before its batch applied ({checkpoint})"
    );
}
