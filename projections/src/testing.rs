//! Test harness for projection logic only: an in-memory [`ReadStore`], an
//! event-log builder and a tiny runner that folds events into a
//! [`ChangeSet`] and commits it, the way the projector runtime does.
//!
//! This store is deliberately simple (one mutex, no generations beyond
//! bookkeeping, leases without clocks worth trusting). It is not a backend:
//! the real stores (SQLite, Redis, MongoDB) have their own conformance suite
//! in `tests/engine.rs`. Here it only has to be a faithful map from keys to
//! documents so projection tests can inspect exactly what was written, and
//! count reads so tests can hold a projection to its per-event read budget.

use crate::{
    ActiveModel, Change, ChangeSet, Namespace, Projection, ProjectionError, ReadStore, RecordedEvent, Scratch,
    StoreError,
};
use aggregates::kippenstummel::cvm::CvmEvent;
use aggregates::kippenstummel::ident::IdentEvent;
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Model {
    docs: BTreeMap<String, BTreeMap<String, Value>>,
    sets: BTreeMap<String, BTreeMap<String, f64>>,
    checkpoint: u64,
}

#[derive(Default)]
struct State {
    models: HashMap<Namespace, Model>,
    active: HashMap<String, ActiveModel>,
    generations: HashMap<String, u64>,
    leases: HashMap<String, (String, Instant)>,
    /// Every `get_doc` as (collection, key), in call order.
    reads: Vec<(String, String)>,
}

/// An in-memory [`ReadStore`] for projection tests.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().expect("memory store poisoned"))
    }

    /// Every document read from the store (cache misses of the change set) since the last call.
    pub fn take_reads(&self) -> Vec<(String, String)> {
        self.with(|s| std::mem::take(&mut s.reads))
    }

    /// Every document of every collection of `ns`: collection → key → document.
    pub fn dump(&self, ns: &Namespace) -> BTreeMap<String, BTreeMap<String, Value>> {
        self.with(|s| s.models.get(ns).map(|m| m.docs.clone()).unwrap_or_default())
    }
}

fn ranked(set: Option<&BTreeMap<String, f64>>, descending: bool) -> Vec<(String, f64)> {
    let mut members: Vec<(String, f64)> = set.into_iter().flatten().map(|(m, s)| (m.clone(), *s)).collect();
    members.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    if descending {
        members.reverse();
    }
    members
}

#[async_trait]
impl ReadStore for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn get_doc(&self, ns: &Namespace, collection: &str, key: &str) -> Result<Option<Value>, StoreError> {
        Ok(self.with(|s| {
            s.reads.push((collection.to_owned(), key.to_owned()));
            s.models
                .get(ns)
                .and_then(|m| m.docs.get(collection))
                .and_then(|c| c.get(key))
                .cloned()
        }))
    }

    async fn list_docs(&self, ns: &Namespace, collection: &str) -> Result<Vec<(String, Value)>, StoreError> {
        Ok(self.with(|s| {
            s.models
                .get(ns)
                .and_then(|m| m.docs.get(collection))
                .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default()
        }))
    }

    async fn zscore(&self, ns: &Namespace, set: &str, member: &str) -> Result<Option<f64>, StoreError> {
        Ok(self.with(|s| s.models.get(ns)?.sets.get(set)?.get(member).copied()))
    }

    async fn zrange_desc(
        &self,
        ns: &Namespace,
        set: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(String, f64)>, StoreError> {
        let all = self.with(|s| ranked(s.models.get(ns).and_then(|m| m.sets.get(set)), true));
        Ok(all.into_iter().skip(offset).take(limit).collect())
    }

    async fn zrange_asc(
        &self,
        ns: &Namespace,
        set: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(String, f64)>, StoreError> {
        let all = self.with(|s| ranked(s.models.get(ns).and_then(|m| m.sets.get(set)), false));
        Ok(all.into_iter().skip(offset).take(limit).collect())
    }

    async fn zcard(&self, ns: &Namespace, set: &str) -> Result<u64, StoreError> {
        Ok(self.with(|s| {
            s.models
                .get(ns)
                .and_then(|m| m.sets.get(set))
                .map_or(0, |z| z.len() as u64)
        }))
    }

    async fn checkpoint(&self, ns: &Namespace) -> Result<u64, StoreError> {
        Ok(self.with(|s| s.models.get(ns).map_or(0, |m| m.checkpoint)))
    }

    async fn commit(&self, ns: &Namespace, expected: u64, new: u64, changes: &[Change]) -> Result<(), StoreError> {
        self.with(|s| {
            let model = s.models.entry(ns.clone()).or_default();
            if model.checkpoint != expected {
                return Err(StoreError::Fenced {
                    expected,
                    found: model.checkpoint,
                });
            }
            for change in changes {
                apply_change(model, change);
            }
            model.checkpoint = new;
            Ok(())
        })
    }

    async fn active(&self, projection: &str) -> Result<Option<ActiveModel>, StoreError> {
        Ok(self.with(|s| s.active.get(projection).copied()))
    }

    async fn activate(&self, projection: &str, model: ActiveModel) -> Result<(), StoreError> {
        self.with(|s| s.active.insert(projection.to_owned(), model));
        Ok(())
    }

    async fn next_generation(&self, projection: &str) -> Result<u64, StoreError> {
        Ok(self.with(|s| {
            let next = s.generations.entry(projection.to_owned()).or_insert(0);
            *next += 1;
            *next
        }))
    }

    async fn drop_generation(&self, ns: &Namespace) -> Result<(), StoreError> {
        self.with(|s| s.models.remove(ns));
        Ok(())
    }

    async fn try_lease(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        Ok(self.with(|s| {
            let now = Instant::now();
            let free = s
                .leases
                .get(name)
                .is_none_or(|(holder, until)| holder == owner || *until <= now);
            if free {
                s.leases.insert(name.to_owned(), (owner.to_owned(), now + ttl));
            }
            free
        }))
    }

    async fn release_lease(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        self.with(|s| {
            if s.leases.get(name).is_some_and(|(holder, _)| holder == owner) {
                s.leases.remove(name);
            }
        });
        Ok(())
    }
}

fn apply_change(model: &mut Model, change: &Change) {
    match change {
        Change::PutDoc { collection, key, doc } => {
            model
                .docs
                .entry(collection.clone())
                .or_default()
                .insert(key.clone(), doc.clone());
        }
        Change::DeleteDoc { collection, key } => {
            if let Some(c) = model.docs.get_mut(collection) {
                c.remove(key);
                if c.is_empty() {
                    model.docs.remove(collection);
                }
            }
        }
        Change::ZAdd { set, member, score } => {
            model
                .sets
                .entry(set.clone())
                .or_default()
                .insert(member.clone(), *score);
        }
        Change::ZRem { set, member } => {
            if let Some(z) = model.sets.get_mut(set) {
                z.remove(member);
            }
        }
    }
}

/// Folds `events` into `store` under `ns`, `batch` events per change set and
/// commit (the runtime's batching, which must not change the outcome), calling
/// `finish_batch` after each batch's last event as the runtime does.
pub async fn run(
    projection: &dyn Projection,
    store: &MemoryStore,
    ns: &Namespace,
    events: &[RecordedEvent],
    batch: usize,
) -> Result<(), ProjectionError> {
    for chunk in events.chunks(batch.max(1)) {
        let expected = store.checkpoint(ns).await?;
        let mut changes = ChangeSet::new(store, ns);
        for event in chunk {
            projection.apply(event, &mut changes).await?;
        }
        projection.finish_batch(&mut changes).await?;
        let new = chunk.last().map_or(expected, |e| e.position);
        store.commit(ns, expected, new, &changes.into_changes()).await?;
    }
    Ok(())
}

/// Folds `events` into `ns` the way the runtime rebuilds a generation:
/// batches of `batch` events flagged as a rebuild, sharing one rebuild
/// scratch area, then the `finish_rebuild` rounds, each committed at the
/// final checkpoint. Returns how many rounds there were.
pub async fn rebuild(
    projection: &dyn Projection,
    store: &MemoryStore,
    ns: &Namespace,
    events: &[RecordedEvent],
    batch: usize,
) -> Result<usize, ProjectionError> {
    let mut scratch = Scratch::default();
    for chunk in events.chunks(batch.max(1)) {
        let expected = store.checkpoint(ns).await?;
        let mut changes = ChangeSet::for_rebuild(store, ns, &mut scratch);
        for event in chunk {
            projection.apply(event, &mut changes).await?;
        }
        projection.finish_batch(&mut changes).await?;
        let new = chunk.last().map_or(expected, |e| e.position);
        store.commit(ns, expected, new, &changes.into_changes()).await?;
    }
    let checkpoint = store.checkpoint(ns).await?;
    let mut rounds = 0;
    loop {
        rounds += 1;
        let mut changes = ChangeSet::for_rebuild(store, ns, &mut scratch);
        let more = projection.finish_rebuild(&mut changes).await?;
        store
            .commit(ns, checkpoint, checkpoint, &changes.into_changes())
            .await?;
        if !more {
            return Ok(rounds);
        }
    }
}

/// Builds a global log: positions, per-aggregate sequences and `occurred_at`
/// metadata, one minute apart unless moved with [`EventLog::at`].
pub struct EventLog {
    events: Vec<RecordedEvent>,
    sequences: HashMap<String, u64>,
    clock: DateTime<Utc>,
}

impl EventLog {
    pub fn starting(clock: DateTime<Utc>) -> Self {
        Self {
            events: Vec::new(),
            sequences: HashMap::new(),
            clock,
        }
    }

    /// The time the next event occurs at.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock
    }

    /// Let the next event occur at `t`.
    pub fn at(&mut self, t: DateTime<Utc>) -> &mut Self {
        self.clock = t;
        self
    }

    /// Appends a CVM event (aggregate id = its `cvmId`).
    pub fn cvm(&mut self, event: CvmEvent) -> &mut Self {
        let payload = serde_json::to_value(&event).expect("cvm events serialize");
        let id = payload
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(|body| body["cvmId"].as_str())
            .expect("cvm events carry a cvmId")
            .to_owned();
        let event_type = payload.as_object().and_then(|o| o.keys().next()).cloned();
        self.push("cvm", &id, &event_type.unwrap_or_default(), payload)
    }

    /// Appends an `ident-erased` event for the identity `id`.
    pub fn ident_erased(&mut self, id: &str) -> &mut Self {
        let payload = serde_json::to_value(IdentEvent::IdentErased {}).expect("ident events serialize");
        self.push("ident", id, "ident-erased", payload)
    }

    /// Appends a raw event.
    pub fn push(&mut self, aggregate_type: &str, aggregate_id: &str, event_type: &str, payload: Value) -> &mut Self {
        let sequence = self
            .sequences
            .entry(format!("{aggregate_type}/{aggregate_id}"))
            .or_insert(0);
        *sequence += 1;
        let position = self.events.len() as u64 + 1;
        let occurred_at = self.clock.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.events.push(RecordedEvent {
            position,
            event_id: format!("event-{position}"),
            aggregate_type: aggregate_type.to_owned(),
            aggregate_id: aggregate_id.to_owned(),
            sequence: *sequence,
            event_type: event_type.to_owned(),
            event_version: "1".to_owned(),
            payload,
            metadata: HashMap::from([("occurred_at".to_owned(), occurred_at)]),
            recorded_at: self.clock + TimeDelta::milliseconds(5),
        });
        self.clock += TimeDelta::minutes(1);
        self
    }

    pub fn events(&self) -> &[RecordedEvent] {
        &self.events
    }
}
