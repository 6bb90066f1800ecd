//! The MongoDB read-model store.
//!
//! Documents, sorted-set members and checkpoints are rows keyed by
//! (projection, generation, ...) in `rm_docs`, `rm_zsets` and
//! `rm_checkpoints`; a batch is committed in one transaction that first
//! checks the checkpoint (fencing) and then writes changes and checkpoint.

use super::{now_ms, other, unavailable};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::error::{ErrorKind, WriteFailure, TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{Client, Collection, Database, IndexModel};
use projections::{ActiveModel, Change, Namespace, ReadStore, StoreError};
use serde_json::Value;
use std::time::Duration;

const MAX_TRANSACTION_ATTEMPTS: usize = 20;

pub struct MongoReadStore {
    client: Client,
    db: Database,
    docs: Collection<Document>,
    zsets: Collection<Document>,
    checkpoints: Collection<Document>,
    active: Collection<Document>,
    generations: Collection<Document>,
    leases: Collection<Document>,
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

impl MongoReadStore {
    pub async fn new(client: Client, db: Database) -> Result<Self, StoreError> {
        let store = Self {
            docs: db.collection("rm_docs"),
            zsets: db.collection("rm_zsets"),
            checkpoints: db.collection("rm_checkpoints"),
            active: db.collection("rm_active"),
            generations: db.collection("rm_generations"),
            leases: db.collection("leases"),
            client,
            db,
        };
        store.ping().await?;
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
                    .options(IndexOptions::builder().build())
                    .build(),
            )
            .await
            .map_err(unavailable)?;
        Ok(store)
    }

    async fn try_commit(
        &self,
        ns: &Namespace,
        expected: u64,
        new: u64,
        changes: &[Change],
    ) -> Result<Outcome, mongodb::error::Error> {
        let mut session = self.client.start_session().await?;
        session.start_transaction().await?;
        let checkpoint_id = row_id(ns, "", "");
        let found = self
            .checkpoints
            .find_one(doc! {"_id": &checkpoint_id})
            .session(&mut session)
            .await?
            .and_then(|d| d.get_i64("position").ok())
            .unwrap_or(0) as u64;
        if found != expected {
            session.abort_transaction().await?;
            return Ok(Outcome::Fenced(found));
        }
        for change in changes {
            match change {
                Change::PutDoc { collection, key, doc } => {
                    let id = row_id(ns, collection, key);
                    let row = doc! {"_id": &id, "projection": &ns.projection, "generation": ns.generation as i64,
                    "collection": collection, "key": key, "doc": doc.to_string()};
                    self.docs
                        .replace_one(doc! {"_id": &id}, row)
                        .upsert(true)
                        .session(&mut session)
                        .await?;
                }
                Change::DeleteDoc { collection, key } => {
                    self.docs
                        .delete_one(doc! {"_id": row_id(ns, collection, key)})
                        .session(&mut session)
                        .await?;
                }
                Change::ZAdd { set, member, score } => {
                    let id = row_id(ns, set, member);
                    let row = doc! {"_id": &id, "projection": &ns.projection, "generation": ns.generation as i64,
                    "set": set, "member": member, "score": *score};
                    self.zsets
                        .replace_one(doc! {"_id": &id}, row)
                        .upsert(true)
                        .session(&mut session)
                        .await?;
                }
                Change::ZRem { set, member } => {
                    self.zsets
                        .delete_one(doc! {"_id": row_id(ns, set, member)})
                        .session(&mut session)
                        .await?;
                }
            }
        }
        let mut checkpoint = ns_filter(ns);
        checkpoint.insert("_id", &checkpoint_id);
        checkpoint.insert("position", new as i64);
        self.checkpoints
            .replace_one(doc! {"_id": &checkpoint_id}, checkpoint)
            .upsert(true)
            .session(&mut session)
            .await?;
        session.commit_transaction().await?;
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
                    r.get_f64("score").map_err(other)?,
                ))
            })
            .collect()
    }
}

fn parse_doc(row: &Document) -> Result<Value, StoreError> {
    serde_json::from_str(row.get_str("doc").map_err(other)?).map_err(other)
}

fn is_duplicate_key(error: &mongodb::error::Error) -> bool {
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == 11000,
        ErrorKind::Command(e) => e.code == 11000,
        _ => false,
    }
}

#[async_trait]
impl ReadStore for MongoReadStore {
    fn kind(&self) -> &'static str {
        "mongodb"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.db
            .run_command(doc! {"ping": 1})
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn get_doc(&self, ns: &Namespace, collection: &str, key: &str) -> Result<Option<Value>, StoreError> {
        let row = self
            .docs
            .find_one(doc! {"_id": row_id(ns, collection, key)})
            .await
            .map_err(unavailable)?;
        row.as_ref().map(parse_doc).transpose()
    }

    async fn list_docs(&self, ns: &Namespace, collection: &str) -> Result<Vec<(String, Value)>, StoreError> {
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
        let row = self
            .zsets
            .find_one(doc! {"_id": row_id(ns, set, member)})
            .await
            .map_err(unavailable)?;
        row.map(|r| r.get_f64("score").map_err(other)).transpose()
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
        let mut filter = ns_filter(ns);
        filter.insert("set", set);
        self.zsets.count_documents(filter).await.map_err(unavailable)
    }

    async fn checkpoint(&self, ns: &Namespace) -> Result<u64, StoreError> {
        let row = self
            .checkpoints
            .find_one(doc! {"_id": row_id(ns, "", "")})
            .await
            .map_err(unavailable)?;
        Ok(row.and_then(|r| r.get_i64("position").ok()).unwrap_or(0) as u64)
    }

    async fn commit(&self, ns: &Namespace, expected: u64, new: u64, changes: &[Change]) -> Result<(), StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_commit(ns, expected, new, changes).await {
                Ok(Outcome::Done) => return Ok(()),
                Ok(Outcome::Fenced(found)) => return Err(StoreError::Fenced { expected, found }),
                Err(e)
                    if attempt < MAX_TRANSACTION_ATTEMPTS
                        && (e.contains_label(TRANSIENT_TRANSACTION_ERROR)
                            || e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT)) =>
                {
                    tokio::time::sleep(Duration::from_millis(attempt as u64 * 5)).await;
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
    }

    async fn active(&self, projection: &str) -> Result<Option<ActiveModel>, StoreError> {
        let row = self
            .active
            .find_one(doc! {"_id": projection})
            .await
            .map_err(unavailable)?;
        row.map(|r| {
            Ok(ActiveModel {
                generation: r.get_i64("generation").map_err(other)? as u64,
                version: r.get_i64("version").map_err(other)? as u32,
            })
        })
        .transpose()
    }

    async fn activate(&self, projection: &str, model: ActiveModel) -> Result<(), StoreError> {
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
        let row = self
            .generations
            .find_one_and_update(doc! {"_id": projection}, doc! {"$inc": {"last": 1_i64}})
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| other("generation counter missing after upsert"))?;
        Ok(row.get_i64("last").map_err(other)? as u64)
    }

    async fn drop_generation(&self, ns: &Namespace) -> Result<(), StoreError> {
        for collection in [&self.docs, &self.zsets, &self.checkpoints] {
            collection.delete_many(ns_filter(ns)).await.map_err(unavailable)?;
        }
        // The checkpoint row carries the namespace fields too (see try_commit).
        Ok(())
    }

    async fn try_lease(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
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
            Err(e) if is_duplicate_key(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn release_lease(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        self.leases
            .delete_one(doc! {"_id": name, "owner": owner})
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}
