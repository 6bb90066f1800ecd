//! Engine benchmarks (a bench binary, not timed tests). Prints one line per
//! measurement; BENCHMARKS.md records the numbers.
//!
//!   cargo bench --bench engine                 # every benchmark, embedded + Redis
//!   cargo bench --bench engine -- append       # only those whose name contains "append"
//!   STUMMEL_TEST_MONGO_URI=... cargo bench --bench engine   # MongoDB too
//!
//! Redis benchmarks start a private redis-server (must be installed).

use aggregates::probe::{Probe, ProbeCommand};
use cqrs_es::persist::SerializedEvent;
use cqrs_es::{AggregateContext, EventStore};
use projections::{EventSource, Projector, ProjectorConfig, ReadStore};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stummel::event_store::{
    AggregateStore, CommandBus, CommandMetadata, EventRepository, MongoEventStore, SqliteEventStore, SyncMode,
};
use stummel::metrics::Metrics;
use stummel::read_store::{MongoReadStore, RedisReadStore, SqliteReadStore};

fn raw(id: &str, sequence: usize, value: i64) -> SerializedEvent {
    SerializedEvent {
        aggregate_id: id.into(),
        sequence,
        aggregate_type: "probe".into(),
        event_type: "Recorded".into(),
        event_version: "2".into(),
        payload: json!({"Recorded": {"value": value}}),
        metadata: json!({"correlation_id": "bench", "occurred_at": "2026-11-25T00:00:00.000Z"}),
    }
}

fn rate(n: u64, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A private redis-server; the temporary directory lives as long as it does.
struct Redis(Child, u16, #[allow(dead_code)] tempfile::TempDir);

impl Redis {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server");
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            std::thread::sleep(Duration::from_millis(20));
        }
        Self(child, port, dir)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Appends `total` events as single-event appends and as batches of 100.
async fn append_throughput(name: &str, repo: &EventRepository, total: usize) {
    let started = Instant::now();
    for i in 0..total {
        repo.append(
            "probe",
            &[raw(&format!("single-{}", i % 100), i / 100 + 1, i as i64)],
            None,
        )
        .await
        .unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "append/{name}/single: {total} events in {elapsed:.2?} = {:.0} events/s",
        rate(total as u64, elapsed)
    );

    let batches = total / 100;
    let started = Instant::now();
    for b in 0..batches {
        let events: Vec<_> = (0..100).map(|i| raw(&format!("batch-{b}"), i + 1, i as i64)).collect();
        repo.append("probe", &events, None).await.unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "append/{name}/batch100: {} events in {elapsed:.2?} = {:.0} events/s",
        batches * 100,
        rate((batches * 100) as u64, elapsed)
    );

    // Through the command path (load, handle, append), 8 concurrent writers.
    let bus = Arc::new(CommandBus::<Probe>::new(repo.clone(), 50, 50, (), Metrics::new()));
    let commands = total / 2;
    let started = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let bus = bus.clone();
            tokio::spawn(async move {
                for i in 0..commands / 8 {
                    let metadata = CommandMetadata::new("bench", None, chrono::Utc::now());
                    let id = format!("cmd-{w}-{}", i % 50);
                    bus.execute(&id, ProbeCommand::Record { value: i as i64 }, &metadata)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let done = (commands / 8 * 8) as u64;
    println!(
        "append/{name}/commands-8-writers: {done} commands in {elapsed:.2?} = {:.0} commands/s",
        rate(done, elapsed)
    );
}

/// Load latency of a 10k-event aggregate, with and without snapshots.
async fn load_latency(name: &str, repo: &EventRepository) {
    const EVENTS: usize = 10_000;
    for chunk in 0..EVENTS / 1000 {
        let events: Vec<_> = (0..1000).map(|i| raw("long", chunk * 1000 + i + 1, i as i64)).collect();
        repo.append("probe", &events, None).await.unwrap();
    }
    let plain = AggregateStore::<Probe>::new(repo.clone(), 0);
    let snapshotting = AggregateStore::<Probe>::new(repo.clone(), 50);
    // One command through the snapshotting store writes the snapshot.
    let bus = CommandBus::<Probe>::new(repo.clone(), 50, 1, (), Metrics::new());
    bus.execute(
        "long",
        ProbeCommand::Record { value: 1 },
        &CommandMetadata::new("b", None, chrono::Utc::now()),
    )
    .await
    .unwrap();
    for (label, store) in [("without-snapshot", &plain), ("with-snapshot", &snapshotting)] {
        let mut samples = Vec::new();
        for _ in 0..30 {
            let started = Instant::now();
            let mut context = store.load_aggregate("long").await.unwrap();
            assert_eq!(context.aggregate().count, EVENTS as u64 + 1);
            samples.push(started.elapsed());
        }
        samples.sort();
        println!(
            "load/{name}/10k-events/{label}: p50 {:.2?}, p90 {:.2?} (30 loads)",
            percentile(&samples, 0.5),
            percentile(&samples, 0.9)
        );
    }
}

/// Writes a log of `total` events (1,000 per append) for the replay benchmarks.
async fn write_log(name: &str, repo: &EventRepository, total: usize, batch: usize) {
    let started = Instant::now();
    for chunk in 0..total / batch {
        let events: Vec<_> = (0..batch).map(|i| raw(&format!("r{chunk}"), i + 1, i as i64)).collect();
        repo.append("probe", &events, None).await.unwrap();
    }
    let head = repo.head().await.unwrap();
    eprintln!("replay/{name}: wrote {head} events in {:.2?}", started.elapsed());
}

/// Replays the whole log into the trivial event-stats projection in `store`.
async fn replay_rate(label: &str, repo: &EventRepository, store: Arc<dyn ReadStore>) {
    let projector = Projector::new(
        Arc::new(projections::stats::EventStats),
        store,
        Arc::new(repo.clone()),
        ProjectorConfig {
            batch_size: 5000,
            ..ProjectorConfig::default()
        },
    );
    let report = projector.rebuild(0, &[], &mut |_, _| {}).await.unwrap();
    println!(
        "replay/{label}/event-stats: {} events in {:.2?} = {:.0} events/s",
        report.events,
        report.elapsed,
        rate(report.events, report.elapsed)
    );
}

/// Lag between an append and its effect in the projection, under a steady
/// append rate.
async fn projector_lag(name: &str, repo: &EventRepository, store: Arc<dyn ReadStore>, per_second: u64, seconds: u64) {
    let projector = Arc::new(Projector::new(
        Arc::new(projections::stats::EventStats),
        store,
        Arc::new(repo.clone()),
        ProjectorConfig {
            poll_interval: Duration::from_millis(500),
            ..ProjectorConfig::default()
        },
    ));
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(projector.clone().run(repo.appended(), stop_rx));
    let mut status = projector.status();
    status
        .wait_for(|s| s.state == projections::ProjectionState::Live)
        .await
        .unwrap();
    let total = per_second * seconds;
    let mut lags = Vec::with_capacity(total as usize);
    let started = Instant::now();
    for i in 0..total {
        tokio::time::sleep_until((started + Duration::from_secs_f64(i as f64 / per_second as f64)).into()).await;
        let sent = Instant::now();
        let position = repo
            .append("probe", &[raw("lag", i as usize + 1, 1)], None)
            .await
            .unwrap()[0];
        status.wait_for(|s| s.checkpoint >= position).await.unwrap();
        lags.push(sent.elapsed());
    }
    stop.send(true).unwrap();
    task.await.unwrap();
    lags.sort();
    println!(
        "lag/{name}/{per_second}-events-per-s: append→applied p50 {:.2?}, p99 {:.2?}, max {:.2?} ({total} events)",
        percentile(&lags, 0.5),
        percentile(&lags, 0.99),
        lags[lags.len() - 1]
    );
}

fn embedded(dir: &std::path::Path) -> EventRepository {
    EventRepository::embedded(SqliteEventStore::open(dir, SyncMode::Full).unwrap())
}

#[tokio::main]
async fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    let mongo_uri = std::env::var("STUMMEL_TEST_MONGO_URI").ok();
    if mongo_uri.is_none() {
        eprintln!("skipped: STUMMEL_TEST_MONGO_URI not set (no MongoDB benchmarks)");
    }
    let mongo = || async {
        let client = mongodb::Client::with_uri_str(mongo_uri.as_deref().unwrap())
            .await
            .unwrap();
        let db = client.database(&format!("stummel_bench_{}", uuid::Uuid::new_v4().simple()));
        (
            EventRepository::mongo(
                MongoEventStore::with_database(client.clone(), db.clone())
                    .await
                    .unwrap(),
            ),
            db,
            client,
        )
    };

    if wanted("append") {
        let dir = tempfile::tempdir().unwrap();
        append_throughput("embedded-sync-full", &embedded(dir.path()), 5000).await;
        let dir = tempfile::tempdir().unwrap();
        let normal = EventRepository::embedded(SqliteEventStore::open(dir.path(), SyncMode::Normal).unwrap());
        append_throughput("embedded-sync-normal", &normal, 20_000).await;
        if mongo_uri.is_some() {
            let (repo, db, _) = mongo().await;
            append_throughput("mongodb", &repo, 5000).await;
            db.drop().await.unwrap();
        }
    }
    if wanted("load") {
        let dir = tempfile::tempdir().unwrap();
        load_latency("embedded", &embedded(dir.path())).await;
        if mongo_uri.is_some() {
            let (repo, db, _) = mongo().await;
            load_latency("mongodb", &repo).await;
            db.drop().await.unwrap();
        }
    }
    if wanted("replay") {
        let dir = tempfile::tempdir().unwrap();
        let repo = EventRepository::embedded(SqliteEventStore::open(dir.path(), SyncMode::Normal).unwrap());
        let store: Arc<dyn ReadStore> = Arc::new(SqliteReadStore::open(dir.path()).unwrap());
        write_log("embedded", &repo, 1_000_000, 1000).await;
        replay_rate("embedded", &repo, store).await;
        let redis = Redis::start();
        let store: Arc<dyn ReadStore> = Arc::new(
            RedisReadStore::connect(
                &format!("redis://127.0.0.1:{}", redis.1),
                "bench:",
                Duration::from_secs(5),
            )
            .await
            .unwrap(),
        );
        replay_rate("embedded-log-into-redis", &repo, store).await;
        if mongo_uri.is_some() {
            // A smaller log in smaller transactions: a 1,000-event transaction
            // ran into DocumentDB's command timeout on the loaded machine.
            let (repo, db, client) = mongo().await;
            write_log("mongodb", &repo, 20_000, 100).await;
            // The read store's transactions need the event store's client.
            let store: Arc<dyn ReadStore> = Arc::new(MongoReadStore::new(client, db.clone()).await.unwrap());
            replay_rate("mongodb-log-into-mongodb", &repo, store).await;
            db.drop().await.unwrap();
        }
    }
    if wanted("lag") {
        let dir = tempfile::tempdir().unwrap();
        let repo = embedded(dir.path());
        let store: Arc<dyn ReadStore> = Arc::new(SqliteReadStore::open(dir.path()).unwrap());
        projector_lag("embedded", &repo, store, 200, 10).await;
        let dir = tempfile::tempdir().unwrap();
        let repo = embedded(dir.path());
        let redis = Redis::start();
        let store: Arc<dyn ReadStore> = Arc::new(
            RedisReadStore::connect(
                &format!("redis://127.0.0.1:{}", redis.1),
                "bench:",
                Duration::from_secs(5),
            )
            .await
            .unwrap(),
        );
        projector_lag("embedded-log-redis-model", &repo, store, 200, 10).await;
        if mongo_uri.is_some() {
            let (repo, db, client) = mongo().await;
            // The read store's transactions need the event store's client.
            let store: Arc<dyn ReadStore> = Arc::new(MongoReadStore::new(client, db.clone()).await.unwrap());
            // One event per transaction tops out near 200/s on DocumentDB: a quarter of that.
            projector_lag("mongodb", &repo, store, 50, 10).await;
            db.drop().await.unwrap();
        }
    }
}
