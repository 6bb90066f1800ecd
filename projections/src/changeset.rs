//! A batch of pending writes with read-your-writes over the store.

use crate::{Change, Namespace, ReadStore, StoreError};
use serde_json::Value;
use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};

/// Typed working state, one value per type (see [`ChangeSet::scratch`]).
#[derive(Default)]
pub struct Scratch(HashMap<TypeId, Box<dyn Any + Send + Sync>>);

impl Scratch {
    /// The value of type `T`, created with `T::default()` on first use.
    pub fn get<T: Default + Send + Sync + 'static>(&mut self) -> &mut T {
        self.0
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Box::new(T::default()))
            .downcast_mut::<T>()
            .expect("scratch values are keyed by their type")
    }
}

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
    /// Stored documents read in bulk ([`ChangeSet::get_many`]), so later
    /// reads of the batch find them without a round trip. Only this change set
    /// writes the namespace during its batch (commits are fenced by the
    /// checkpoint), so they stay current; pending writes take precedence.
    fetched: HashMap<(String, String), Option<Value>>,
    scores: BTreeMap<(String, String), Option<f64>>,
    scratch: Scratch,
    /// The scratch area of the whole rebuild this batch belongs to, if any.
    rebuild: Option<&'a mut Scratch>,
}

impl<'a> ChangeSet<'a> {
    pub fn new(store: &'a dyn ReadStore, ns: &'a Namespace) -> Self {
        Self {
            store,
            ns,
            docs: BTreeMap::new(),
            fetched: HashMap::new(),
            scores: BTreeMap::new(),
            scratch: Scratch::default(),
            rebuild: None,
        }
    }

    /// A change set for a batch of a rebuild, or a round of its
    /// [`Projection::finish_rebuild`](crate::Projection::finish_rebuild):
    /// `rebuild` is the scratch area that lives as long as the rebuild.
    pub fn for_rebuild(store: &'a dyn ReadStore, ns: &'a Namespace, rebuild: &'a mut Scratch) -> Self {
        Self {
            rebuild: Some(rebuild),
            ..Self::new(store, ns)
        }
    }

    /// True during a rebuild. The generation it writes is not active yet, so
    /// nobody reads it before the rebuild is over; the batches are applied
    /// in one go, in order, by one runner; and a rebuild that stops half way
    /// is dropped, never resumed. So a projection may keep its working state
    /// in [`ChangeSet::rebuild_scratch`] instead of the store and write it
    /// once, in [`Projection::finish_rebuild`](crate::Projection::finish_rebuild),
    /// where every batch would otherwise rewrite the same documents.
    pub fn is_rebuild(&self) -> bool {
        self.rebuild.is_some()
    }

    /// The rebuild's scratch value of type `T` (see [`ChangeSet::is_rebuild`]):
    /// like [`ChangeSet::scratch`], but kept from the first batch of a rebuild
    /// to its last `finish_rebuild` round. `None` outside a rebuild.
    pub fn rebuild_scratch<T: Default + Send + Sync + 'static>(&mut self) -> Option<&mut T> {
        self.rebuild.as_deref_mut().map(Scratch::get)
    }

    /// This batch's scratch value of type `T` (created with `T::default()` on
    /// first use): per-batch working state, one value per type, never
    /// committed and not counted by [`ChangeSet::is_empty`]. Use a type private
    /// to the projection so no one else shares it.
    pub fn scratch<T: Default + Send + Sync + 'static>(&mut self) -> &mut T {
        self.scratch.get()
    }

    pub async fn get(&self, collection: &str, key: &str) -> Result<Option<Value>, StoreError> {
        let id = (collection.to_owned(), key.to_owned());
        match self.docs.get(&id).or_else(|| self.fetched.get(&id)) {
            Some(known) => Ok(known.clone()),
            None => self.store.get_doc(self.ns, collection, key).await,
        }
    }

    /// The documents of `keys` as [`ChangeSet::get`] would read them one by
    /// one, in the order of `keys`, with one store round trip for all that
    /// this batch has neither written nor read before. What it reads from the
    /// store is kept for the rest of the batch.
    pub async fn get_many(&mut self, collection: &str, keys: &[String]) -> Result<Vec<Option<Value>>, StoreError> {
        let known = |s: &Self, key: &String| {
            let id = (collection.to_owned(), key.clone());
            s.docs.contains_key(&id) || s.fetched.contains_key(&id)
        };
        let mut missing: Vec<String> = keys.iter().filter(|key| !known(self, key)).cloned().collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            let stored = self.store.get_docs(self.ns, collection, &missing).await?;
            for (key, doc) in missing.into_iter().zip(stored) {
                self.fetched.insert((collection.to_owned(), key), doc);
            }
        }
        Ok(keys
            .iter()
            .map(|key| {
                let id = (collection.to_owned(), key.clone());
                self.docs.get(&id).or_else(|| self.fetched.get(&id)).cloned().flatten()
            })
            .collect())
    }

    /// Every document of a collection, by key, as this batch left it (its
    /// writes over the stored ones). Reads the whole collection: for small ones.
    pub async fn list(&self, collection: &str) -> Result<Vec<(String, Value)>, StoreError> {
        let mut docs: BTreeMap<String, Value> = self.store.list_docs(self.ns, collection).await?.into_iter().collect();
        for ((c, key), doc) in &self.docs {
            if c == collection {
                match doc {
                    Some(doc) => docs.insert(key.clone(), doc.clone()),
                    None => docs.remove(key),
                };
            }
        }
        Ok(docs.into_iter().collect())
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
