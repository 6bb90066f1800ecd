//! The MongoDB event store.
//!
//! One document per event in `events`, unique on (aggregate_type,
//! aggregate_id, sequence) — that index is the optimistic-concurrency guard —
//! and unique on `position`. Positions come from the counter document
//! `counters/_id: "events"`, incremented *inside the same transaction* that
//! inserts the events: a concurrent append touching the counter hits a write
//! conflict and retries after this one commits, so positions are gap-free and
//! in commit order, and a reader polling `position > checkpoint` never skips an
//! event that commits late. Snapshots live in `snapshots`, written in the same
//! transaction. Transactions need a replica set (a single node is enough) or
//! a mongos; they write with `w: majority` and read a snapshot, and every
//! read of the log reads majority-committed data, so nothing a failover can
//! roll back is ever answered as appended or handed to a projector.
//! Collection names carry the configured prefix (`stummel_events`, ...).

use super::{connection, unknown, SnapshotWrite, StoredEvent};
use crate::mongo::{json, num, txn, Mongo};
use chrono::Utc;
use cqrs_es::persist::{PersistenceError, SerializedEvent, SerializedSnapshot};
use futures_util::{FutureExt, TryStreamExt};
use mongodb::bson::{self, doc, Document};
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{ClientSession, Collection, IndexModel};
use serde_json::Value;

/// The collections of the event store (before the prefix).
pub const COLLECTIONS: [&str; 3] = ["events", "snapshots", "counters"];

pub struct MongoEventStore {
    mongo: Mongo,
    events: Collection<Document>,
    snapshots: Collection<Document>,
    counters: Collection<Document>,
}

impl MongoEventStore {
    /// An event store on `client`/`db` with the default collection prefix.
    pub async fn with_database(client: mongodb::Client, db: mongodb::Database) -> Result<Self, PersistenceError> {
        Self::open(&Mongo::with_database(client, db)).await
    }

    /// Creates the collections and indexes (before any transaction runs).
    pub async fn open(mongo: &Mongo) -> Result<Self, PersistenceError> {
        let store = Self {
            events: mongo.collection("events"),
            snapshots: mongo.collection("snapshots"),
            counters: mongo.collection("counters"),
            mongo: mongo.clone(),
        };
        store.ping().await?;
        mongo.ensure_collections(&COLLECTIONS).await.map_err(connection)?;
        let unique = || IndexOptions::builder().unique(true).build();
        store
            .events
            .create_indexes([
                IndexModel::builder()
                    .keys(doc! {"aggregate_type": 1, "aggregate_id": 1, "sequence": 1})
                    .options(unique())
                    .build(),
                IndexModel::builder()
                    .keys(doc! {"position": 1})
                    .options(unique())
                    .build(),
            ])
            .await
            .map_err(connection)?;
        store
            .snapshots
            .create_index(
                IndexModel::builder()
                    .keys(doc! {"aggregate_type": 1, "aggregate_id": 1})
                    .options(unique())
                    .build(),
            )
            .await
            .map_err(connection)?;
        Ok(store)
    }

    pub fn database(&self) -> &mongodb::Database {
        &self.mongo.db
    }

    pub fn mongo(&self) -> &Mongo {
        &self.mongo
    }

    pub async fn ping(&self) -> Result<(), PersistenceError> {
        self.mongo.check().map_err(connection)?;
        self.mongo
            .db
            .run_command(doc! {"ping": 1})
            .await
            .map(|_| ())
            .map_err(connection)
    }

    /// Appends in one transaction (see the module docs and
    /// [`crate::mongo::txn`] for what is retried). A duplicate (aggregate,
    /// sequence) is an optimistic-concurrency conflict.
    pub async fn append(
        &self,
        aggregate_type: &str,
        events: &[SerializedEvent],
        snapshot: Option<SnapshotWrite>,
    ) -> Result<Vec<u64>, PersistenceError> {
        let context = (self, aggregate_type, events, snapshot.as_ref());
        let result = self
            .mongo
            .transaction_where(
                position_taken,
                context,
                |session, (store, aggregate_type, events, snapshot)| {
                    let (store, aggregate_type, events, snapshot) = (*store, *aggregate_type, *events, *snapshot);
                    async move { store.append_in(session, aggregate_type, events, snapshot).await }.boxed()
                },
            )
            .await;
        match result {
            Ok(positions) => Ok(positions),
            Err(error) if txn::is_duplicate_key(error.error()) => Err(PersistenceError::OptimisticLockError),
            Err(error) => Err(connection(error)),
        }
    }

    async fn append_in(
        &self,
        session: &mut ClientSession,
        aggregate_type: &str,
        events: &[SerializedEvent],
        snapshot: Option<&SnapshotWrite>,
    ) -> Result<Vec<u64>, mongodb::error::Error> {
        let counter = self
            .counters
            .find_one_and_update(doc! {"_id": "events"}, doc! {"$inc": {"position": events.len() as i64}})
            .upsert(true)
            .return_document(ReturnDocument::After)
            .session(&mut *session)
            .await?
            .ok_or_else(|| mongodb::error::Error::custom("counter document missing after upsert".to_owned()))?;
        let last = num::uint(&counter, "position").map_err(|e| mongodb::error::Error::custom(e.to_string()))?;
        let first = last + 1 - events.len() as u64;
        let recorded_at = bson::DateTime::from_millis(Utc::now().timestamp_millis());
        let docs = events.iter().zip(first..).map(|(event, position)| {
            doc! {
                "_id": uuid::Uuid::new_v4().to_string(),
                "position": position as i64,
                "aggregate_type": aggregate_type,
                "aggregate_id": &event.aggregate_id,
                "sequence": event.sequence as i64,
                "event_type": &event.event_type,
                "event_version": &event.event_version,
                "payload": json::to_bson(&event.payload),
                "metadata": json::to_bson(&event.metadata),
                "recorded_at": recorded_at,
            }
        });
        self.events.insert_many(docs).session(&mut *session).await?;
        if let Some(s) = snapshot {
            // A plain upsert is safe: the events inserted above hold the
            // stream's highest sequence (a competing append of the same
            // sequence fails on the unique index and aborts this transaction),
            // so no stored snapshot can be newer than this one.
            self.snapshots
                .update_one(
                    doc! {"aggregate_type": aggregate_type, "aggregate_id": &s.aggregate_id},
                    doc! {"$set": {
                        "last_sequence": s.last_sequence as i64,
                        "snapshot_no": s.snapshot_no as i64,
                        "payload": json::to_bson(&s.state),
                    }},
                )
                .upsert(true)
                .session(&mut *session)
                .await?;
        }
        Ok((first..=last).collect())
    }

    pub async fn stream_of(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after: u64,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.mongo.check().map_err(connection)?;
        let docs: Vec<Document> = self
            .events
            .find(doc! {"aggregate_type": aggregate_type, "aggregate_id": aggregate_id, "sequence": {"$gt": after as i64}})
            .sort(doc! {"sequence": 1})
            .await
            .map_err(connection)?
            .try_collect()
            .await
            .map_err(connection)?;
        docs.iter().map(serialized).collect()
    }

    pub async fn snapshot(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        self.mongo.check().map_err(connection)?;
        let Some(found) = self
            .snapshots
            .find_one(doc! {"aggregate_type": aggregate_type, "aggregate_id": aggregate_id})
            .await
            .map_err(connection)?
        else {
            return Ok(None);
        };
        Ok(Some(SerializedSnapshot {
            aggregate_id: aggregate_id.to_owned(),
            aggregate: payload(&found, "payload"),
            current_sequence: num::uint(&found, "last_sequence").map_err(unknown)? as usize,
            current_snapshot: num::uint(&found, "snapshot_no").map_err(unknown)? as usize,
        }))
    }

    pub async fn read_after(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, PersistenceError> {
        self.mongo.check().map_err(connection)?;
        let docs: Vec<Document> = self
            .events
            .find(doc! {"position": {"$gt": after as i64}})
            .sort(doc! {"position": 1})
            .limit(limit as i64)
            .await
            .map_err(connection)?
            .try_collect()
            .await
            .map_err(connection)?;
        docs.iter()
            .map(|d| {
                Ok(StoredEvent {
                    position: num::uint(d, "position").map_err(unknown)?,
                    event_id: d.get_str("_id").map_err(unknown)?.to_owned(),
                    recorded_at: chrono::DateTime::from_timestamp_millis(
                        d.get_datetime("recorded_at").map_err(unknown)?.timestamp_millis(),
                    )
                    .unwrap_or_default(),
                    event: serialized(d)?,
                })
            })
            .collect()
    }

    pub async fn head(&self) -> Result<u64, PersistenceError> {
        self.mongo.check().map_err(connection)?;
        let last = self
            .events
            .find_one(doc! {})
            .sort(doc! {"position": -1})
            .projection(doc! {"position": 1})
            .await
            .map_err(connection)?;
        last.map_or(Ok(0), |d| num::uint(&d, "position")).map_err(unknown)
    }
}

/// Rerun on the usual transient errors, and when the unique position index
/// fires: then a concurrent append took the same counter value, which snapshot
/// transactions should prevent; the rerun reads the counter afresh. (A
/// duplicate on the stream index is a real conflict: OptimisticLockError.)
fn position_taken(error: &mongodb::error::Error) -> bool {
    txn::is_transient(error) || txn::is_duplicate_on(error, "position_1")
}

fn payload(d: &Document, key: &str) -> Value {
    d.get(key).map_or(Value::Null, json::from_bson)
}

fn serialized(d: &Document) -> Result<SerializedEvent, PersistenceError> {
    Ok(SerializedEvent {
        aggregate_id: d.get_str("aggregate_id").map_err(unknown)?.to_owned(),
        sequence: num::uint(d, "sequence").map_err(unknown)? as usize,
        aggregate_type: d.get_str("aggregate_type").map_err(unknown)?.to_owned(),
        event_type: d.get_str("event_type").map_err(unknown)?.to_owned(),
        event_version: d.get_str("event_version").map_err(unknown)?.to_owned(),
        payload: payload(d, "payload"),
        metadata: payload(d, "metadata"),
    })
}
