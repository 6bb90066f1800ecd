//! The MongoDB read-model store.
//!
//! Documents, sorted-set members and checkpoints are rows keyed by
//! (projection, generation, ...) in `rm_docs`, `rm_zsets` and
//! `rm_checkpoints`; a batch is committed in one transaction that first
//! checks the checkpoint (fencing) and then writes changes and checkpoint.

use super::mongo_query;
use super::{now_ms, other, unavailable};
use crate::mongo::{num, txn, Mongo};
use async_trait::async_trait;
use futures_util::{FutureExt, TryStreamExt};
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::ReturnDocument;
use mongodb::{ClientSession, Collection, IndexModel};
use projections::{bounded_range, ActiveModel, Change, DocQuery, Namespace, Queryable, ReadStore, StoreError};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;
use std::time::Duration;

/// The collections of the read-model store (before the prefix).
pub const COLLECTIONS: [&str; 6] = [
    "rm_docs",
    "rm_zsets",
    "rm_checkpoints",
    "rm_active",
    "rm_generations",
    "leases",
];

/// Ids per `delete_many`: keeps each filter far below the 16 MB document limit.
const IDS_PER_DELETE: usize = 10_000;

pub struct MongoReadStore {
    mongo: Mongo,
    docs: Collection<Document>,
    zsets: Collection<Document>,
    checkpoints: Collection<Document>,
    active: Collection<Document>,
    generations: Collection<Document>,
    leases: Collection<Document>,
    /// The queryable collections declared, by (projection, collection).
    declared: RwLock<HashMap<(String, String), Typed>>,
}

/// A declared queryable collection and its MongoDB collection of typed documents.
#[derive(Clone)]
struct Typed {
    queryable: &'static Queryable,
    collection: Collection<Document>,
}

fn row_id(ns: &Namespace, a: &str, b: &str) -> String {
    // The unit separator cannot appear in our names or keys by accident.
    format!("{}\u{1f}{}\u{1f}{a}\u{1f}{b}", ns.projection, ns.generation)
}

fn ns_filter(ns: &Namespace) -> Document {
    doc! {"projection": &ns.projection, "generation": ns.generation as i64}
}

enum Outcome {
    Done,
    Fenced(u64),
}

/// Rerun the transaction on the usual transient errors, and on a duplicate
/// `_id`: every id a batch inserts was deleted earlier in the same
/// transaction, so a duplicate can only be a concurrent runner's insert —
/// the rerun then finds the moved checkpoint and is fenced.
fn concurrent_batch(error: &mongodb::error::Error) -> bool {
    txn::is_transient(error) || txn::is_duplicate_key(error)
}

/// Carries a fenced outcome out of the transaction callback as its error,
/// so the runner aborts instead of committing.
struct Fence(u64);

/// A batch's changes as whole rows per collection: every touched id is
/// deleted, then the rows that remain are inserted, so a batch costs a
/// couple of round trips per collection however many keys it touches.
#[derive(Default)]
struct Rows {
    touched: Vec<Bson>,
    rows: Vec<Document>,
}

impl Rows {
    fn delete(&mut self, id: String) {
        self.touched.push(Bson::String(id));
    }

    fn put(&mut self, id: String, row: Document) {
        self.touched.push(Bson::String(id));
        self.rows.push(row);
    }
}

struct Batch {
    docs: Rows,
    zsets: Rows,
    /// The typed documents of queryable collections, written beside `docs`.
    typed: Vec<(Collection<Document>, Rows)>,
}

impl Batch {
    fn new(ns: &Namespace, changes: &[Change], typed_of: impl Fn(&str) -> Option<Typed>) -> Self {
        // Last write per id wins (a ChangeSet already emits one per key;
        // this keeps the rows unique whatever the caller passes).
        let mut docs: BTreeMap<String, Option<Document>> = BTreeMap::new();
        let mut zsets: BTreeMap<String, Option<Document>> = BTreeMap::new();
        let mut typed: BTreeMap<String, (Typed, BTreeMap<String, Option<Document>>)> = BTreeMap::new();
        let generation = ns.generation as i64;
        for change in changes {
            match change {
                Change::PutDoc { collection, key, doc } => {
                    let id = row_id(ns, collection, key);
                    if let Some(t) = typed_of(collection) {
                        let row = mongo_query::typed(t.queryable, &id, ns, key, doc);
                        let entry = typed.entry(collection.clone()).or_insert_with(|| (t, BTreeMap::new()));
                        entry.1.insert(id.clone(), Some(row));
                    }
                    let row = doc! {"_id": &id, "projection": &ns.projection, "generation": generation,
                    "collection": collection, "key": key, "doc": doc.to_string()};
                    docs.insert(id, Some(row));
                }
                Change::DeleteDoc { collection, key } => {
                    let id = row_id(ns, collection, key);
                    if let Some(t) = typed_of(collection) {
                        let entry = typed.entry(collection.clone()).or_insert_with(|| (t, BTreeMap::new()));
                        entry.1.insert(id.clone(), None);
                    }
                    docs.insert(id, None);
                }
                Change::ZAdd { set, member, score } => {
                    let id = row_id(ns, set, member);
                    let row = doc! {"_id": &id, "projection": &ns.projection, "generation": generation,
                    "set": set, "member": member, "score": *score};
                    zsets.insert(id, Some(row));
                }
                Change::ZRem { set, member } => {
                    zsets.insert(row_id(ns, set, member), None);
                }
            }
        }
        let rows = |map: BTreeMap<String, Option<Document>>| {
            let mut rows = Rows::default();
            for (id, row) in map {
                match row {
                    Some(row) => rows.put(id, row),
                    None => rows.delete(id),
                }
            }
            rows
        };
        Self {
            docs: rows(docs),
            zsets: rows(zsets),
            typed: typed
                .into_values()
                .map(|(t, changes)| (t.collection, rows(changes)))
                .collect(),
        }
    }
}

impl MongoReadStore {
    /// A read-model store on `client`/`db` with the default collection prefix.
    pub async fn new(client: mongodb::Client, db: mongodb::Database) -> Result<Self, StoreError> {
        Self::open(&Mongo::with_database(client, db)).await
    }

    /// Creates the collections and indexes (before any transaction runs).
    pub async fn open(mongo: &Mongo) -> Result<Self, StoreError> {
        let store = Self {
            docs: mongo.collection("rm_docs"),
            zsets: mongo.collection("rm_zsets"),
            checkpoints: mongo.collection("rm_checkpoints"),
            active: mongo.collection("rm_active"),
            generations: mongo.collection("rm_generations"),
            leases: mongo.collection("leases"),
            mongo: mongo.clone(),
            declared: RwLock::default(),
        };
        store.ping().await?;
        mongo.ensure_collections(&COLLECTIONS).await.map_err(unavailable)?;
        store
            .docs
            .create_index(
                IndexModel::builder()
                    .keys(doc! {"projection": 1, "generation": 1, "collection": 1, "key": 1})
                    .build(),
            )
            .await
            .map_err(unavailable)?;
        store
            .zsets
            .create_index(
                IndexModel::builder()
                    .keys(doc! {"projection": 1, "generation": 1, "set": 1, "score": -1, "member": -1})
                    .build(),
            )
            .await
            .map_err(unavailable)?;
        Ok(store)
    }

    /// One transaction: read the checkpoint (the fence), write the batch's
    /// rows per collection in bulk, move the checkpoint.
    async fn commit_in(
        &self,
        session: &mut ClientSession,
        ns: &Namespace,
        expected: u64,
        new: u64,
        batch: &Batch,
    ) -> Result<Outcome, mongodb::error::Error> {
        let checkpoint_id = row_id(ns, "", "");
        let found = match self
            .checkpoints
            .find_one(doc! {"_id": &checkpoint_id})
            .session(&mut *session)
            .await?
        {
            Some(row) => num::uint(&row, "position").map_err(|e| mongodb::error::Error::custom(e.to_string()))?,
            None => 0,
        };
        if found != expected {
            // Nothing written: the runner aborts the transaction.
            return Ok(Outcome::Fenced(found));
        }
        let fixed = [(&self.docs, &batch.docs), (&self.zsets, &batch.zsets)];
        for (collection, rows) in fixed.into_iter().chain(batch.typed.iter().map(|(c, r)| (c, r))) {
            for ids in rows.touched.chunks(IDS_PER_DELETE) {
                collection
                    .delete_many(doc! {"_id": {"$in": ids}})
                    .session(&mut *session)
                    .await?;
            }
            if !rows.rows.is_empty() {
                // The driver splits this into as few messages as the size limits allow.
                collection.insert_many(&rows.rows).session(&mut *session).await?;
            }
        }
        let mut checkpoint = ns_filter(ns);
        checkpoint.insert("_id", &checkpoint_id);
        checkpoint.insert("position", new as i64);
        self.checkpoints
            .replace_one(doc! {"_id": &checkpoint_id}, checkpoint)
            .upsert(true)
            .session(&mut *session)
            .await?;
        Ok(Outcome::Done)
    }
}

impl MongoReadStore {
    /// Members ordered by score, ties by member (`direction` 1 or -1).
    async fn zrange(
        &self,
        ns: &Namespace,
        set: &str,
        offset: usize,
        limit: usize,
        direction: i32,
    ) -> Result<Vec<(String, f64)>, StoreError> {
        self.up()?;
        let Some((offset, limit)) = projections::bounded_range(offset, limit) else {
            return Ok(Vec::new());
        };
        let mut filter = ns_filter(ns);
        filter.insert("set", set);
        let rows: Vec<Document> = self
            .zsets
            .find(filter)
            .sort(doc! {"score": direction, "member": direction})
            .skip(offset as u64)
            .limit(limit as i64)
            .await
            .map_err(unavailable)?
            .try_collect()
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.get_str("member").map_err(other)?.to_owned(),
                    num::float(r, "score").map_err(other)?,
                ))
            })
            .collect()
    }
}

impl MongoReadStore {
    fn typed(&self, ns: &Namespace, queryable: &Queryable) -> Result<Typed, StoreError> {
        self.declared
            .read()
            .map_err(|_| other("declarations poisoned"))?
            .get(&(ns.projection.clone(), queryable.collection.to_owned()))
            .cloned()
            .ok_or_else(|| {
                other(format!(
                    "{}/{} was never declared queryable",
                    ns.projection, queryable.collection
                ))
            })
    }

    /// Fails at once while MongoDB is known to be down (see `crate::mongo::health`).
    fn up(&self) -> Result<(), StoreError> {
        self.mongo.check().map_err(unavailable)
    }
}

fn parse_doc(row: &Document) -> Result<Value, StoreError> {
    serde_json::from_str(row.get_str("doc").map_err(other)?).map_err(other)
}

#[async_trait]
impl ReadStore for MongoReadStore {
    fn kind(&self) -> &'static str {
        "mongodb"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.mongo.check().map_err(unavailable)?;
        self.mongo
            .db
            .run_command(doc! {"ping": 1})
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn get_doc(&self, ns: &Namespace, collection: &str, key: &str) -> Result<Option<Value>, StoreError> {
        self.up()?;
        let row = self
            .docs
            .find_one(doc! {"_id": row_id(ns, collection, key)})
            .await
            .map_err(unavailable)?;
        row.as_ref().map(parse_doc).transpose()
    }

    /// A `find` with `_id: {$in: ...}` per few thousand keys (the driver pages
    /// each cursor), instead of a round trip per key.
    async fn get_docs(
        &self,
        ns: &Namespace,
        collection: &str,
        keys: &[String],
    ) -> Result<Vec<Option<Value>>, StoreError> {
        /// Keeps each filter far below the 16 MB command limit.
        const KEYS_PER_FIND: usize = 5_000;
        self.up()?;
        let mut found: std::collections::HashMap<String, Value> = std::collections::HashMap::new();
        for chunk in keys.chunks(KEYS_PER_FIND) {
            let ids: Vec<String> = chunk.iter().map(|key| row_id(ns, collection, key)).collect();
            let rows: Vec<Document> = self
                .docs
                .find(doc! {"_id": {"$in": &ids}})
                .await
                .map_err(unavailable)?
                .try_collect()
                .await
                .map_err(unavailable)?;
            for row in &rows {
                found.insert(row.get_str("key").map_err(other)?.to_owned(), parse_doc(row)?);
            }
        }
        Ok(keys.iter().map(|key| found.get(key).cloned()).collect())
    }

    async fn list_docs(&self, ns: &Namespace, collection: &str) -> Result<Vec<(String, Value)>, StoreError> {
        self.up()?;
        let mut filter = ns_filter(ns);
        filter.insert("collection", collection);
        let rows: Vec<Document> = self
            .docs
            .find(filter)
            .sort(doc! {"key": 1})
            .await
            .map_err(unavailable)?
            .try_collect()
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(|r| Ok((r.get_str("key").map_err(other)?.to_owned(), parse_doc(r)?)))
            .collect()
    }

    async fn zscore(&self, ns: &Namespace, set: &str, member: &str) -> Result<Option<f64>, StoreError> {
        self.up()?;
        let row = self
            .zsets
            .find_one(doc! {"_id": row_id(ns, set, member)})
            .await
            .map_err(unavailable)?;
        row.map(|r| num::float(&r, "score").map_err(other)).transpose()
    }

    async fn zrange_desc(
        &self,
        ns: &Namespace,
        set: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(String, f64)>, StoreError> {
        self.zrange(ns, set, offset, limit, -1).await
    }

    async fn zrange_asc(
        &self,
        ns: &Namespace,
        set: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(String, f64)>, StoreError> {
        self.zrange(ns, set, offset, limit, 1).await
    }

    async fn zcard(&self, ns: &Namespace, set: &str) -> Result<u64, StoreError> {
        self.up()?;
        let mut filter = ns_filter(ns);
        filter.insert("set", set);
        self.zsets.count_documents(filter).await.map_err(unavailable)
    }

    async fn declare(&self, projection: &str, queryables: &'static [Queryable]) -> Result<(), StoreError> {
        self.up()?;
        for q in queryables {
            let collection = mongo_query::create(&self.mongo, &self.docs, projection, q, row_id).await?;
            self.declared
                .write()
                .map_err(|_| other("declarations poisoned"))?
                .insert(
                    (projection.to_owned(), q.collection.to_owned()),
                    Typed {
                        queryable: q,
                        collection,
                    },
                );
        }
        Ok(())
    }

    async fn query_docs(
        &self,
        ns: &Namespace,
        queryable: &'static Queryable,
        query: &DocQuery<'_>,
    ) -> Result<Vec<(String, Value)>, StoreError> {
        self.up()?;
        let Some(range) = bounded_range(query.offset, query.limit) else {
            return Ok(Vec::new());
        };
        let typed = self.typed(ns, queryable)?;
        mongo_query::select_docs(&typed.collection, mongo_query::filter(queryable, ns, query)?, range).await
    }

    async fn count_docs(
        &self,
        ns: &Namespace,
        queryable: &'static Queryable,
        query: &DocQuery<'_>,
    ) -> Result<u64, StoreError> {
        self.up()?;
        let typed = self.typed(ns, queryable)?;
        mongo_query::count(&typed.collection, mongo_query::filter(queryable, ns, query)?).await
    }

    async fn query_positions(
        &self,
        ns: &Namespace,
        queryable: &'static Queryable,
        query: &DocQuery<'_>,
    ) -> Result<Vec<(String, f64, f64)>, StoreError> {
        self.up()?;
        let typed = self.typed(ns, queryable)?;
        mongo_query::positions(&typed.collection, queryable, mongo_query::filter(queryable, ns, query)?).await
    }

    async fn checkpoint(&self, ns: &Namespace) -> Result<u64, StoreError> {
        self.up()?;
        let row = self
            .checkpoints
            .find_one(doc! {"_id": row_id(ns, "", "")})
            .await
            .map_err(unavailable)?;
        row.map_or(Ok(0), |r| num::uint(&r, "position").map_err(other))
    }

    async fn commit(&self, ns: &Namespace, expected: u64, new: u64, changes: &[Change]) -> Result<(), StoreError> {
        let batch = {
            let declared = self.declared.read().map_err(|_| other("declarations poisoned"))?;
            Batch::new(ns, changes, |collection| {
                declared.get(&(ns.projection.clone(), collection.to_owned())).cloned()
            })
        };
        let result = self
            .mongo
            .transaction_where(concurrent_batch, (self, ns, &batch), |session, (store, ns, batch)| {
                let (store, ns, batch) = (*store, *ns, *batch);
                async move {
                    match store.commit_in(session, ns, expected, new, batch).await? {
                        // Abort explicitly: a fenced batch writes nothing.
                        Outcome::Fenced(found) => Err(mongodb::error::Error::custom(Fence(found))),
                        Outcome::Done => Ok(()),
                    }
                }
                .boxed()
            })
            .await;
        match result {
            Ok(()) => Ok(()),
            Err(error) => match error.error().get_custom::<Fence>() {
                Some(Fence(found)) => Err(StoreError::Fenced {
                    expected,
                    found: *found,
                }),
                None => Err(unavailable(error)),
            },
        }
    }

    async fn active(&self, projection: &str) -> Result<Option<ActiveModel>, StoreError> {
        self.up()?;
        let row = self
            .active
            .find_one(doc! {"_id": projection})
            .await
            .map_err(unavailable)?;
        row.map(|r| {
            Ok(ActiveModel {
                generation: num::uint(&r, "generation").map_err(other)?,
                version: u32::try_from(num::uint(&r, "version").map_err(other)?).map_err(other)?,
            })
        })
        .transpose()
    }

    async fn activate(&self, projection: &str, model: ActiveModel) -> Result<(), StoreError> {
        self.up()?;
        self.active
            .replace_one(
                doc! {"_id": projection},
                doc! {"_id": projection, "generation": model.generation as i64, "version": model.version as i64},
            )
            .upsert(true)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn next_generation(&self, projection: &str) -> Result<u64, StoreError> {
        self.up()?;
        let row = self
            .generations
            .find_one_and_update(doc! {"_id": projection}, doc! {"$inc": {"last": 1_i64}})
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| other("generation counter missing after upsert"))?;
        num::uint(&row, "last").map_err(other)
    }

    async fn drop_generation(&self, ns: &Namespace) -> Result<(), StoreError> {
        self.up()?;
        for collection in [&self.docs, &self.zsets, &self.checkpoints] {
            collection.delete_many(ns_filter(ns)).await.map_err(unavailable)?;
        }
        let typed: Vec<Collection<Document>> = self
            .declared
            .read()
            .map_err(|_| other("declarations poisoned"))?
            .iter()
            .filter(|((projection, _), _)| *projection == ns.projection)
            .map(|(_, t)| t.collection.clone())
            .collect();
        for collection in typed {
            collection
                .delete_many(doc! {"generation": ns.generation as i64})
                .await
                .map_err(unavailable)?;
        }
        // The checkpoint row carries the namespace fields too (see commit_in).
        Ok(())
    }

    async fn try_lease(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.up()?;
        let now = now_ms();
        let result = self
            .leases
            .find_one_and_update(
                doc! {"_id": name, "$or": [{"owner": owner}, {"expires_at": {"$lte": now}}]},
                doc! {"$set": {"owner": owner, "expires_at": now + ttl.as_millis() as i64}},
            )
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await;
        match result {
            Ok(row) => Ok(row.is_some_and(|r| r.get_str("owner").ok() == Some(owner))),
            // Held by someone else: the upsert collided with their document.
            Err(e) if txn::is_duplicate_key(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn release_lease(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        self.up()?;
        self.leases
            .delete_one(doc! {"_id": name, "owner": owner})
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}
