//! The read-model store abstraction shared by the Redis, MongoDB and
//! embedded (SQLite) backends.
//!
//! A read model lives in a [`Namespace`]: the projection's name plus a
//! generation. Rebuilds write a new generation and [`ReadStore::activate`]
//! swaps the pointer, so queries (which resolve the active generation) never
//! see a half-built model.

use crate::query::{DocQuery, Queryable};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Namespace {
    pub projection: String,
    pub generation: u64,
}

impl Namespace {
    pub fn new(projection: impl Into<String>, generation: u64) -> Self {
        Self {
            projection: projection.into(),
            generation,
        }
    }
}

/// The generation queries read, and the projection version that built it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveModel {
    pub generation: u64,
    pub version: u32,
}

/// An absolute write. Projections never emit relative operations (like
/// "increment"): the [`crate::ChangeSet`] resolves them against current state,
/// so replaying a committed batch is harmless.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Change {
    PutDoc {
        collection: String,
        key: String,
        doc: Value,
    },
    DeleteDoc {
        collection: String,
        key: String,
    },
    ZAdd {
        set: String,
        member: String,
        score: f64,
    },
    ZRem {
        set: String,
        member: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The namespace's checkpoint is not the one the writer started from:
    /// another runner wrote this batch (lost lease) or the model was dropped.
    #[error("checkpoint moved: expected {expected}, found {found}")]
    Fenced { expected: u64, found: u64 },
    #[error("read-model store unavailable: {0}")]
    Unavailable(String),
    #[error("read-model store: {0}")]
    Other(String),
}

/// Sorted-set pages starting beyond this offset are empty in every store, and
/// longer pages are cut to it. Stores count in signed 64-bit integers (SQLite
/// `OFFSET`, Redis indexes, MongoDB `skip`), where a larger client-given page
/// would wrap around to a negative index and answer the wrong page; with both
/// bounds at 2^62, `offset + limit` cannot overflow. No set is that large.
pub const MAX_RANGE_INDEX: usize = 1 << 62;

/// `(offset, limit)` as a store may use them, or `None` for an empty page.
pub fn bounded_range(offset: usize, limit: usize) -> Option<(usize, usize)> {
    (limit > 0 && offset <= MAX_RANGE_INDEX).then_some((offset, limit.min(MAX_RANGE_INDEX)))
}

#[async_trait]
pub trait ReadStore: Send + Sync {
    /// "redis", "mongodb" or "embedded".
    fn kind(&self) -> &'static str;
    async fn ping(&self) -> Result<(), StoreError>;

    async fn get_doc(&self, ns: &Namespace, collection: &str, key: &str) -> Result<Option<Value>, StoreError>;
    /// The documents of `keys` in one collection, in the order of `keys`
    /// (`None` for a missing one). For callers that need many known keys at
    /// once (a projection recomputing a region reads hundreds of cells): this
    /// default reads them one by one; stores override it with one round trip.
    async fn get_docs(
        &self,
        ns: &Namespace,
        collection: &str,
        keys: &[String],
    ) -> Result<Vec<Option<Value>>, StoreError> {
        let mut docs = Vec::with_capacity(keys.len());
        for key in keys {
            docs.push(self.get_doc(ns, collection, key).await?);
        }
        Ok(docs)
    }
    /// Every document of a collection, ordered by key.
    async fn list_docs(&self, ns: &Namespace, collection: &str) -> Result<Vec<(String, Value)>, StoreError>;
    async fn zscore(&self, ns: &Namespace, set: &str, member: &str) -> Result<Option<f64>, StoreError>;
    /// Members by descending score (ties by member, descending), `offset`/`limit` paged
    /// (see [`bounded_range`]).
    async fn zrange_desc(
        &self,
        ns: &Namespace,
        set: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(String, f64)>, StoreError>;
    /// Members by ascending score (ties by member, ascending), `offset`/`limit` paged.
    async fn zrange_asc(
        &self,
        ns: &Namespace,
        set: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(String, f64)>, StoreError>;
    /// Number of members of a set.
    async fn zcard(&self, ns: &Namespace, set: &str) -> Result<u64, StoreError>;

    /// Prepares the store to answer queries over `projection`'s queryable
    /// collections (tables, indexes), filling them from documents already
    /// stored. Idempotent; called at start for every projection the store holds.
    async fn declare(&self, _projection: &str, _queryables: &'static [Queryable]) -> Result<(), StoreError> {
        Ok(())
    }

    /// The documents of a queryable collection that `query` selects, by key,
    /// paged. This default scans the collection; stores with native indexes
    /// answer from them, with the same results.
    async fn query_docs(
        &self,
        ns: &Namespace,
        queryable: &'static Queryable,
        query: &DocQuery<'_>,
    ) -> Result<Vec<(String, Value)>, StoreError> {
        let Some((offset, limit)) = bounded_range(query.offset, query.limit) else {
            return Ok(Vec::new());
        };
        Ok(self
            .list_docs(ns, queryable.collection)
            .await?
            .into_iter()
            .filter(|(_, doc)| queryable.matches(doc, query))
            .skip(offset)
            .take(limit)
            .collect())
    }

    /// How many documents `query` selects (paging aside).
    async fn count_docs(
        &self,
        ns: &Namespace,
        queryable: &'static Queryable,
        query: &DocQuery<'_>,
    ) -> Result<u64, StoreError> {
        let all = DocQuery {
            offset: 0,
            limit: usize::MAX,
            ..*query
        };
        Ok(self.query_docs(ns, queryable, &all).await?.len() as u64)
    }

    /// Key and position of every document `query` selects (paging aside), for
    /// clustering: cheaper than whole documents where the store can.
    async fn query_positions(
        &self,
        ns: &Namespace,
        queryable: &'static Queryable,
        query: &DocQuery<'_>,
    ) -> Result<Vec<(String, f64, f64)>, StoreError> {
        let all = DocQuery {
            offset: 0,
            limit: usize::MAX,
            ..*query
        };
        Ok(self
            .query_docs(ns, queryable, &all)
            .await?
            .into_iter()
            .filter_map(|(key, doc)| {
                let (lng, lat) = queryable.position_of(&doc)?;
                Some((key, lng, lat))
            })
            .collect())
    }

    /// Last applied position of a namespace (0 when new).
    async fn checkpoint(&self, ns: &Namespace) -> Result<u64, StoreError>;
    /// Apply `changes` and move the checkpoint from `expected` to `new`, all
    /// or nothing. Fails with [`StoreError::Fenced`] when the checkpoint is
    /// not `expected`.
    async fn commit(&self, ns: &Namespace, expected: u64, new: u64, changes: &[Change]) -> Result<(), StoreError>;

    async fn active(&self, projection: &str) -> Result<Option<ActiveModel>, StoreError>;
    /// Point queries at `model`. Atomic: readers see the old or the new generation.
    async fn activate(&self, projection: &str, model: ActiveModel) -> Result<(), StoreError>;
    /// A generation number never handed out before for this projection.
    async fn next_generation(&self, projection: &str) -> Result<u64, StoreError>;
    /// Remove every trace of a generation (documents, sets, checkpoint).
    async fn drop_generation(&self, ns: &Namespace) -> Result<(), StoreError>;

    /// Take or renew the lease `name` for `owner`. True when `owner` holds it
    /// now; it expires after `ttl` unless renewed.
    async fn try_lease(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError>;
    async fn release_lease(&self, name: &str, owner: &str) -> Result<(), StoreError>;
    /// Takes every lease of `names` for `owner`, or none of them (`false`).
    /// This default takes them one by one and gives back what it took when
    /// one is held by someone else; stores override it with one round trip.
    async fn try_leases(&self, names: &[String], owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        for (i, name) in names.iter().enumerate() {
            if !self.try_lease(name, owner, ttl).await? {
                for taken in &names[..i] {
                    self.release_lease(taken, owner).await?;
                }
                return Ok(false);
            }
        }
        Ok(true)
    }
    /// Gives back every lease of `names` that `owner` holds.
    async fn release_leases(&self, names: &[String], owner: &str) -> Result<(), StoreError> {
        for name in names {
            self.release_lease(name, owner).await?;
        }
        Ok(())
    }
}
