//! A batch of pending writes with read-your-writes over the store.

use crate::{Change, Namespace, ReadStore, StoreError};
use serde_json::Value;
use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};

/// Pending writes of one batch. Reads consult the pending writes first, then
/// the store, so later events of a batch see earlier ones. Only the last write
/// per key is committed.
///
/// It also carries a typed scratch area ([`ChangeSet::scratch`]) for state a
/// projection keeps across the events of one batch (e.g. what to recompute in
/// [`Projection::finish_batch`](crate::Projection::finish_batch)); scratch
/// state is dropped with the change set and never committed.
pub struct ChangeSet<'a> {
    store: &'a dyn ReadStore,
    ns: &'a Namespace,
    docs: BTreeMap<(String, String), Option<Value>>,
    scores: BTreeMap<(String, String), Option<f64>>,
    scratch: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
}

impl<'a> ChangeSet<'a> {
    pub fn new(store: &'a dyn ReadStore, ns: &'a Namespace) -> Self {
        Self {
            store,
            ns,
            docs: BTreeMap::new(),
            scores: BTreeMap::new(),
            scratch: HashMap::new(),
        }
    }

    /// This batch's scratch value of type `T` (created with `T::default()` on
    /// first use): per-batch working state, one value per type, never
    /// committed and not counted by [`ChangeSet::is_empty`]. Use a type private
    /// to the projection so no one else shares it.
    pub fn scratch<T: Default + Send + Sync + 'static>(&mut self) -> &mut T {
        self.scratch
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Box::new(T::default()))
            .downcast_mut::<T>()
            .expect("scratch values are keyed by their type")
    }

    pub async fn get(&self, collection: &str, key: &str) -> Result<Option<Value>, StoreError> {
        match self.docs.get(&(collection.to_owned(), key.to_owned())) {
            Some(pending) => Ok(pending.clone()),
            None => self.store.get_doc(self.ns, collection, key).await,
        }
    }

    pub fn put(&mut self, collection: &str, key: &str, doc: Value) {
        self.docs.insert((collection.to_owned(), key.to_owned()), Some(doc));
    }

    pub fn delete(&mut self, collection: &str, key: &str) {
        self.docs.insert((collection.to_owned(), key.to_owned()), None);
    }

    pub async fn zscore(&self, set: &str, member: &str) -> Result<Option<f64>, StoreError> {
        match self.scores.get(&(set.to_owned(), member.to_owned())) {
            Some(pending) => Ok(*pending),
            None => self.store.zscore(self.ns, set, member).await,
        }
    }

    pub fn zadd(&mut self, set: &str, member: &str, score: f64) {
        self.scores.insert((set.to_owned(), member.to_owned()), Some(score));
    }

    /// Adds `delta` to the member's score (absent counts as 0) and returns the new score.
    pub async fn zincr(&mut self, set: &str, member: &str, delta: f64) -> Result<f64, StoreError> {
        let score = self.zscore(set, member).await?.unwrap_or(0.0) + delta;
        self.zadd(set, member, score);
        Ok(score)
    }

    pub fn zrem(&mut self, set: &str, member: &str) {
        self.scores.insert((set.to_owned(), member.to_owned()), None);
    }

    /// No pending writes (scratch state does not count).
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty() && self.scores.is_empty()
    }

    pub fn into_changes(self) -> Vec<Change> {
        let docs = self.docs.into_iter().map(|((collection, key), doc)| match doc {
            Some(doc) => Change::PutDoc { collection, key, doc },
            None => Change::DeleteDoc { collection, key },
        });
        let scores = self.scores.into_iter().map(|((set, member), score)| match score {
            Some(score) => Change::ZAdd { set, member, score },
            None => Change::ZRem { set, member },
        });
        docs.chain(scores).collect()
    }
}
