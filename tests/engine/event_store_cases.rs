//! Event-store conformance cases; each takes a fresh, empty repository.

use aggregates::probe::{Probe, ProbeCommand, ProbeError};
use cqrs_es::persist::{PersistenceError, SerializedEvent};
use cqrs_es::{AggregateContext, AggregateError, EventStore};
use projections::EventSource;
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use stummel::event_store::{meta, AggregateStore, CommandBus, CommandError, CommandMetadata, EventRepository};
use stummel::metrics::Metrics;

fn bus(repo: &EventRepository, snapshot_every: usize, attempts: u32) -> CommandBus<Probe> {
    CommandBus::new(repo.clone(), snapshot_every, attempts, (), Metrics::new())
}

fn metadata(correlation: &str) -> CommandMetadata {
    CommandMetadata::new(correlation, Some("actor-token-1".into()), chrono::Utc::now())
}

async fn load(repo: &EventRepository, id: &str, snapshot_every: usize) -> Probe {
    let store = AggregateStore::<Probe>::new(repo.clone(), snapshot_every);
    let mut context = store.load_aggregate(id).await.unwrap();
    context.aggregate().clone()
}

fn raw(id: &str, sequence: usize, payload: serde_json::Value, version: &str) -> SerializedEvent {
    SerializedEvent {
        aggregate_id: id.into(),
        sequence,
        aggregate_type: "probe".into(),
        event_type: "Recorded".into(),
        event_version: version.into(),
        payload,
        metadata: json!({}),
    }
}

pub async fn append_and_load(repo: EventRepository) {
    let bus = bus(&repo, 0, 1);
    bus.execute("a", ProbeCommand::Record { value: 1 }, &metadata("c1"))
        .await
        .unwrap();
    bus.execute("b", ProbeCommand::Record { value: 10 }, &metadata("c2"))
        .await
        .unwrap();
    bus.execute("a", ProbeCommand::RecordMany { values: vec![2, 3] }, &metadata("c3"))
        .await
        .unwrap();

    let a = load(&repo, "a", 0).await;
    assert_eq!((a.count, a.sum, a.last), (3, 6, Some(3)));
    let b = load(&repo, "b", 0).await;
    assert_eq!((b.count, b.sum), (1, 10));
    assert_eq!(load(&repo, "nobody", 0).await, Probe::default());

    let stream = repo.stream_of("probe", "a", 0).await.unwrap();
    assert_eq!(stream.iter().map(|e| e.sequence).collect::<Vec<_>>(), vec![1, 2, 3]);
    let tail = repo.stream_of("probe", "a", 1).await.unwrap();
    assert_eq!(
        tail.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        vec![2, 3],
        "strictly after"
    );

    let all = repo.read_after(0, 100).await.unwrap();
    assert_eq!(all.iter().map(|e| e.position).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert_eq!(
        all.iter()
            .map(|e| (e.aggregate_id.as_str(), e.sequence))
            .collect::<Vec<_>>(),
        vec![("a", 1), ("b", 1), ("a", 2), ("a", 3)]
    );
    assert_eq!(repo.read_after(2, 1).await.unwrap()[0].position, 3);
    assert_eq!(repo.head().await.unwrap(), 4);
    assert!(repo.read_after(4, 10).await.unwrap().is_empty());
}

pub async fn metadata_is_recorded(repo: EventRepository) {
    let bus = bus(&repo, 0, 1);
    bus.execute(
        "m",
        ProbeCommand::RecordMany { values: vec![1, 2] },
        &metadata("req-42"),
    )
    .await
    .unwrap();
    let events = repo.read_after(0, 10).await.unwrap();
    assert_eq!(events.len(), 2);
    let ids: HashSet<_> = events.iter().map(|e| e.event_id.clone()).collect();
    assert_eq!(ids.len(), 2, "every event has its own id");
    for event in &events {
        assert_eq!(event.metadata[meta::CORRELATION_ID], "req-42");
        assert_eq!(event.metadata[meta::ACTOR], "actor-token-1");
        assert_eq!(event.metadata[meta::EVENT_ID], event.event_id);
        assert!(chrono::DateTime::parse_from_rfc3339(&event.metadata[meta::OCCURRED_AT]).is_ok());
        assert_eq!(event.event_version, "2");
        assert_eq!(event.aggregate_type, "probe");
        let age = chrono::Utc::now() - event.recorded_at;
        assert!(age < chrono::Duration::minutes(1) && age > chrono::Duration::seconds(-5));
    }
}

pub async fn conflicting_append_fails_and_writes_nothing(repo: EventRepository) {
    repo.append("probe", &[raw("x", 1, json!({"Recorded": {"value": 1}}), "2")], None)
        .await
        .unwrap();
    let clash = [
        raw("x", 2, json!({"Recorded": {"value": 2}}), "2"),
        raw("x", 1, json!({"Recorded": {"value": 3}}), "2"),
    ];
    let error = repo.append("probe", &clash, None).await.unwrap_err();
    assert!(matches!(error, PersistenceError::OptimisticLockError), "{error:?}");
    assert_eq!(repo.head().await.unwrap(), 1, "the whole batch was rejected");
    assert_eq!(repo.stream_of("probe", "x", 0).await.unwrap().len(), 1);

    // Two writers that loaded the same version: the second commit conflicts.
    let store = AggregateStore::<Probe>::new(repo.clone(), 0);
    let first = store.load_aggregate("x").await.unwrap();
    let second = store.load_aggregate("x").await.unwrap();
    store
        .commit(
            vec![aggregates::probe::ProbeEvent::Recorded { value: 5 }],
            first,
            Default::default(),
        )
        .await
        .unwrap();
    let error = store
        .commit(
            vec![aggregates::probe::ProbeEvent::Recorded { value: 6 }],
            second,
            Default::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, AggregateError::AggregateConflict), "{error:?}");
    assert_eq!(load(&repo, "x", 0).await.sum, 6);

    // The same sequence under another aggregate type is no conflict.
    let mut other = raw("x", 1, json!({}), "1");
    other.aggregate_type = "other".into();
    repo.append("other", &[other], None).await.unwrap();
}

pub async fn conflicting_commands_are_retried(repo: EventRepository) {
    // 16 commands race on one aggregate; with enough attempts every one lands.
    let bus = Arc::new(bus(&repo, 0, 100));
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let bus = bus.clone();
            tokio::spawn(async move {
                bus.execute("hot", ProbeCommand::Record { value: i }, &metadata("r"))
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let hot = load(&repo, "hot", 0).await;
    assert_eq!((hot.count, hot.sum), (16, (0..16).sum::<i64>()));

    // With a single attempt, racing commands give up with a conflict.
    let bus = Arc::new(bus_with_one_attempt(&repo));
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let bus = bus.clone();
            tokio::spawn(async move {
                bus.execute("hot2", ProbeCommand::Record { value: i }, &metadata("r"))
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    let mut conflicts = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => ok += 1,
            Err(CommandError::Conflict { attempts: 1 }) => conflicts += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        load(&repo, "hot2", 0).await.count,
        ok,
        "exactly the acknowledged commands are stored"
    );
    assert_eq!(ok + conflicts, 16);
}

fn bus_with_one_attempt(repo: &EventRepository) -> CommandBus<Probe> {
    bus(repo, 0, 1)
}

pub async fn snapshot_equals_full_rebuild(repo: EventRepository) {
    let bus = bus(&repo, 3, 1);
    for i in 0..10i64 {
        let values: Vec<i64> = (0..(i % 3 + 1)).map(|j| i * 7 + j).collect();
        bus.execute("s", ProbeCommand::RecordMany { values }, &metadata("s"))
            .await
            .unwrap();
    }
    let snapshot = repo
        .snapshot("probe", "s")
        .await
        .unwrap()
        .expect("a snapshot was taken");
    assert!(
        snapshot.current_sequence >= 15,
        "snapshot kept up: {}",
        snapshot.current_sequence
    );
    let from_snapshot = load(&repo, "s", 3).await;
    let from_events = load(&repo, "s", 0).await;
    assert_eq!(from_snapshot, from_events);
    assert_eq!(from_events.count, 19);
    // The stored snapshot itself is the state at its sequence, not more.
    let stored: Probe = serde_json::from_value(snapshot.aggregate).unwrap();
    let mut replayed = Probe::default();
    for event in repo
        .stream_of("probe", "s", 0)
        .await
        .unwrap()
        .into_iter()
        .take(snapshot.current_sequence)
    {
        let envelope = cqrs_es::EventEnvelope::<Probe>::try_from(event).unwrap();
        cqrs_es::Aggregate::apply(&mut replayed, envelope.payload);
    }
    assert_eq!(stored, replayed);
}

pub async fn corrupt_snapshot_falls_back_to_events(repo: EventRepository) {
    let events: Vec<_> = (1..=4)
        .map(|i| raw("c", i, json!({"Recorded": {"value": i}}), "2"))
        .collect();
    let snapshot = stummel::event_store::SnapshotWrite {
        aggregate_id: "c".into(),
        state: json!({"not": "a probe"}),
        last_sequence: 4,
        snapshot_no: 1,
    };
    repo.append("probe", &events, Some(snapshot)).await.unwrap();
    let loaded = load(&repo, "c", 3).await;
    assert_eq!((loaded.count, loaded.sum), (4, 10));
}

pub async fn global_order_under_concurrent_appenders(repo: EventRepository) {
    const WRITERS: usize = 8;
    const COMMANDS: usize = 60;
    let expected = (WRITERS * COMMANDS * 2) as u64;
    let bus = Arc::new(bus(&repo, 0, 1));
    // A reader polls while the writers write, exactly as a projector does.
    let reader = {
        let repo = repo.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut checkpoint = 0;
            let deadline = std::time::Instant::now() + Duration::from_secs(120);
            while checkpoint < expected && std::time::Instant::now() < deadline {
                let batch = repo.read_after(checkpoint, 7).await.unwrap();
                for event in batch {
                    checkpoint = event.position;
                    seen.push((event.position, event.aggregate_id.clone(), event.sequence));
                }
                tokio::task::yield_now().await;
            }
            seen
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let bus = bus.clone();
            tokio::spawn(async move {
                for i in 0..COMMANDS {
                    let values = vec![i as i64, i as i64 + 1];
                    bus.execute(&format!("w{w}"), ProbeCommand::RecordMany { values }, &metadata("g"))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let seen = reader.await.unwrap();
    let positions: Vec<u64> = seen.iter().map(|(p, _, _)| *p).collect();
    assert_eq!(
        positions,
        (1..=expected).collect::<Vec<_>>(),
        "every event exactly once, in position order"
    );
    // Per aggregate, the global order preserves the stream order.
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    for (_, id, sequence) in &seen {
        let previous = last.insert(id.clone(), *sequence).unwrap_or(0);
        assert_eq!(*sequence, previous + 1, "{id}");
    }
    assert_eq!(repo.head().await.unwrap(), expected);
}

pub async fn old_event_versions_are_upcast(repo: EventRepository) {
    repo.append("probe", &[raw("u", 1, json!({"Recorded": {"amount": 7}}), "1")], None)
        .await
        .unwrap();
    let loaded = load(&repo, "u", 0).await;
    assert_eq!((loaded.count, loaded.sum), (1, 7));
    let recorded = repo.read_after(0, 1).await.unwrap().remove(0);
    assert_eq!(recorded.event_version, "2");
    assert_eq!(recorded.payload, json!({"Recorded": {"value": 7}}));
    // The stored event is untouched.
    let stored = repo.read_raw(0, 1).await.unwrap().remove(0);
    assert_eq!(stored.event.event_version, "1");
    // New commands append on top of the upcast history.
    bus(&repo, 0, 1)
        .execute("u", ProbeCommand::Record { value: 1 }, &metadata("u"))
        .await
        .unwrap();
    assert_eq!(load(&repo, "u", 0).await.sum, 8);
}

pub async fn user_errors_write_nothing(repo: EventRepository) {
    let bus = bus(&repo, 0, 3);
    let error = bus
        .execute("e", ProbeCommand::RecordMany { values: vec![1, -1] }, &metadata("e"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, CommandError::Rejected(ProbeError::Negative(-1))),
        "{error:?}"
    );
    assert_eq!(repo.head().await.unwrap(), 0);
}
