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
//! a mongos.

use super::{connection, unknown, SnapshotWrite, StoredEvent};
use chrono::Utc;
use cqrs_es::persist::{PersistenceError, SerializedEvent, SerializedSnapshot};
use futures_util::TryStreamExt;
use mongodb::bson::{self, doc, Bson, Document};
use mongodb::error::{ErrorKind, WriteFailure, TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{Client, Collection, Database, IndexModel};
use serde_json::Value;

/// Transient transaction errors (write conflicts on the counter under
/// concurrent appends) are retried this many times before giving up.
const MAX_TRANSACTION_ATTEMPTS: usize = 50;

pub struct MongoEventStore {
    client: Client,
    db: Database,
    events: Collection<Document>,
    snapshots: Collection<Document>,
    counters: Collection<Document>,
}

impl MongoEventStore {
    /// Connects with `uri` (its default database, or `database` when given)
    /// and creates the indexes.
    pub async fn connect(uri: &str, database: Option<&str>) -> Result<Self, PersistenceError> {
        let client = Client::with_uri_str(uri).await.map_err(connection)?;
        let db = match database {
            Some(name) => client.database(name),
            None => client.default_database().unwrap_or_else(|| client.database("stummel")),
        };
        Self::with_database(client, db).await
    }

    pub async fn with_database(client: Client, db: Database) -> Result<Self, PersistenceError> {
        let store = Self {
            events: db.collection("events"),
            snapshots: db.collection("snapshots"),
            counters: db.collection("counters"),
            client,
            db,
        };
        store.ping().await?;
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

    pub fn database(&self) -> &Database {
        &self.db
    }

    pub async fn ping(&self) -> Result<(), PersistenceError> {
        self.db
            .run_command(doc! {"ping": 1})
            .await
            .map(|_| ())
            .map_err(connection)
    }

    pub async fn append(
        &self,
        aggregate_type: &str,
        events: &[SerializedEvent],
        snapshot: Option<SnapshotWrite>,
    ) -> Result<Vec<u64>, PersistenceError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_append(aggregate_type, events, snapshot.as_ref()).await {
                Ok(positions) => return Ok(positions),
                Err(error) if is_duplicate_key(&error) => return Err(PersistenceError::OptimisticLockError),
                Err(error)
                    if attempt < MAX_TRANSACTION_ATTEMPTS
                        && (error.contains_label(TRANSIENT_TRANSACTION_ERROR)
                            || error.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT)) =>
                {
                    // Back off a little so the conflicting transaction can commit.
                    tokio::time::sleep(std::time::Duration::from_millis(attempt as u64)).await;
                }
                Err(error) => return Err(connection(error)),
            }
        }
    }

    async fn try_append(
        &self,
        aggregate_type: &str,
        events: &[SerializedEvent],
        snapshot: Option<&SnapshotWrite>,
    ) -> Result<Vec<u64>, mongodb::error::Error> {
        let mut session = self.client.start_session().await?;
        session.start_transaction().await?;
        let result: Result<Vec<u64>, mongodb::error::Error> = async {
            let counter = self
                .counters
                .find_one_and_update(doc! {"_id": "events"}, doc! {"$inc": {"position": events.len() as i64}})
                .upsert(true)
                .return_document(ReturnDocument::After)
                .session(&mut session)
                .await?
                .ok_or_else(|| mongodb::error::Error::custom("counter document missing after upsert"))?;
            let last = counter.get_i64("position").map_err(mongodb::error::Error::custom)? as u64;
            let first = last + 1 - events.len() as u64;
            let recorded_at = bson::DateTime::from_millis(Utc::now().timestamp_millis());
            let docs = events
                .iter()
                .zip(first..)
                .map(|(event, position)| -> Result<Document, mongodb::error::Error> {
                    Ok(doc! {
                        "_id": uuid::Uuid::new_v4().to_string(),
                        "position": position as i64,
                        "aggregate_type": aggregate_type,
                        "aggregate_id": &event.aggregate_id,
                        "sequence": event.sequence as i64,
                        "event_type": &event.event_type,
                        "event_version": &event.event_version,
                        "payload": to_bson(&event.payload)?,
                        "metadata": to_bson(&event.metadata)?,
                        "recorded_at": recorded_at,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.events.insert_many(docs).session(&mut session).await?;
            if let Some(s) = snapshot {
                self.snapshots
                    .update_one(
                        doc! {"aggregate_type": aggregate_type, "aggregate_id": &s.aggregate_id,
                        "last_sequence": {"$lt": s.last_sequence as i64}},
                        doc! {"$set": {
                            "last_sequence": s.last_sequence as i64,
                            "snapshot_no": s.snapshot_no as i64,
                            "payload": to_bson(&s.state)?,
                        }},
                    )
                    .session(&mut session)
                    .await?;
                // First snapshot of this aggregate: insert (a racing insert
                // fails on the unique index, which aborts the transaction).
                let exists = self
                    .snapshots
                    .find_one(doc! {"aggregate_type": aggregate_type, "aggregate_id": &s.aggregate_id})
                    .session(&mut session)
                    .await?
                    .is_some();
                if !exists {
                    self.snapshots
                        .insert_one(doc! {
                            "aggregate_type": aggregate_type,
                            "aggregate_id": &s.aggregate_id,
                            "last_sequence": s.last_sequence as i64,
                            "snapshot_no": s.snapshot_no as i64,
                            "payload": to_bson(&s.state)?,
                        })
                        .session(&mut session)
                        .await?;
                }
            }
            Ok((first..=last).collect())
        }
        .await;
        match result {
            Ok(positions) => {
                session.commit_transaction().await?;
                Ok(positions)
            }
            Err(error) => {
                let _ = session.abort_transaction().await;
                Err(error)
            }
        }
    }

    pub async fn stream_of(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after: u64,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
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
            aggregate: from_bson(found.get("payload"))?,
            current_sequence: found.get_i64("last_sequence").map_err(unknown)? as usize,
            current_snapshot: found.get_i64("snapshot_no").map_err(unknown)? as usize,
        }))
    }

    pub async fn read_after(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, PersistenceError> {
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
                    position: d.get_i64("position").map_err(unknown)? as u64,
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
        let last = self
            .events
            .find_one(doc! {})
            .sort(doc! {"position": -1})
            .projection(doc! {"position": 1})
            .await
            .map_err(connection)?;
        last.map_or(Ok(0), |d| d.get_i64("position").map(|p| p as u64))
            .map_err(unknown)
    }
}

fn to_bson(value: &Value) -> Result<Bson, mongodb::error::Error> {
    bson::to_bson(value).map_err(mongodb::error::Error::custom)
}

fn from_bson(value: Option<&Bson>) -> Result<Value, PersistenceError> {
    let value = value.cloned().unwrap_or(Bson::Null);
    // Relaxed extended JSON keeps plain numbers, strings and nesting as they were.
    Ok(value.into_relaxed_extjson())
}

fn serialized(d: &Document) -> Result<SerializedEvent, PersistenceError> {
    Ok(SerializedEvent {
        aggregate_id: d.get_str("aggregate_id").map_err(unknown)?.to_owned(),
        sequence: d.get_i64("sequence").map_err(unknown)? as usize,
        aggregate_type: d.get_str("aggregate_type").map_err(unknown)?.to_owned(),
        event_type: d.get_str("event_type").map_err(unknown)?.to_owned(),
        event_version: d.get_str("event_version").map_err(unknown)?.to_owned(),
        payload: from_bson(d.get("payload"))?,
        metadata: from_bson(d.get("metadata"))?,
    })
}

fn is_duplicate_key(error: &mongodb::error::Error) -> bool {
    const DUPLICATE_KEY: i32 = 11000;
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(e) => e
            .write_errors
            .as_ref()
            .is_some_and(|errors| errors.iter().any(|e| e.code == DUPLICATE_KEY)),
        ErrorKind::Command(e) => e.code == DUPLICATE_KEY,
        _ => false,
    }
}
