//! The embedded event store: one SQLite file in WAL mode.
//!
//! All appends go through one writer connection inside `BEGIN IMMEDIATE`, so
//! commits are serialised and `position` (the table's integer primary key,
//! assigned inside the transaction) is gap-free and in commit order. Readers
//! use their own connections and see committed data only.

use super::{connection, unknown, SnapshotWrite, StoredEvent};
use chrono::{DateTime, Utc};
use cqrs_es::persist::{PersistenceError, SerializedEvent, SerializedSnapshot};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    position       INTEGER PRIMARY KEY,
    event_id       TEXT NOT NULL UNIQUE,
    aggregate_type TEXT NOT NULL,
    aggregate_id   TEXT NOT NULL,
    sequence       INTEGER NOT NULL,
    event_type     TEXT NOT NULL,
    event_version  TEXT NOT NULL,
    payload        TEXT NOT NULL,
    metadata       TEXT NOT NULL,
    recorded_at    TEXT NOT NULL,
    UNIQUE (aggregate_type, aggregate_id, sequence)
);
CREATE TABLE IF NOT EXISTS snapshots (
    aggregate_type TEXT NOT NULL,
    aggregate_id   TEXT NOT NULL,
    last_sequence  INTEGER NOT NULL,
    snapshot_no    INTEGER NOT NULL,
    payload        TEXT NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);
";

const READERS: usize = 4;

/// How hard SQLite syncs a commit to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// fsync on every commit: nothing acknowledged is lost, even on power loss.
    Full,
    /// fsync at checkpoints only: survives a process crash, not a power loss.
    Normal,
}

pub struct SqliteEventStore {
    path: PathBuf,
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Vec<Mutex<Connection>>>,
    next_reader: AtomicUsize,
}

fn open(path: &Path, sync: SyncMode) -> Result<Connection, PersistenceError> {
    let conn = Connection::open(path).map_err(connection)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(connection)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(connection)?;
    let sync = match sync {
        SyncMode::Full => "FULL",
        SyncMode::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync).map_err(connection)?;
    Ok(conn)
}

impl SqliteEventStore {
    /// Opens (creating when missing) `events.db` in `dir`.
    pub fn open(dir: &Path, sync: SyncMode) -> Result<Self, PersistenceError> {
        std::fs::create_dir_all(dir).map_err(|e| connection(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("events.db");
        let writer = open(&path, sync)?;
        writer.execute_batch(SCHEMA).map_err(connection)?;
        let readers = (0..READERS)
            .map(|_| open(&path, sync).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            path,
            writer: Arc::new(Mutex::new(writer)),
            readers: Arc::new(readers),
            next_reader: AtomicUsize::new(0),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, PersistenceError> + Send + 'static,
    ) -> Result<T, PersistenceError> {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = writer.lock().map_err(|_| unknown("event store writer poisoned"))?;
            f(&mut conn)
        })
        .await
        .map_err(unknown)?
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, PersistenceError> + Send + 'static,
    ) -> Result<T, PersistenceError> {
        let readers = self.readers.clone();
        let index = self.next_reader.fetch_add(1, Ordering::Relaxed) % readers.len();
        tokio::task::spawn_blocking(move || {
            let conn = readers[index]
                .lock()
                .map_err(|_| unknown("event store reader poisoned"))?;
            f(&conn)
        })
        .await
        .map_err(unknown)?
    }

    pub async fn ping(&self) -> Result<(), PersistenceError> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(connection))
            .await
    }

    pub async fn append(
        &self,
        aggregate_type: &str,
        events: &[SerializedEvent],
        snapshot: Option<SnapshotWrite>,
    ) -> Result<Vec<u64>, PersistenceError> {
        let aggregate_type = aggregate_type.to_owned();
        let events = events.to_vec();
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(connection)?;
            let mut positions = Vec::with_capacity(events.len());
            {
                let mut insert = tx
                    .prepare_cached(
                        "INSERT INTO events (event_id, aggregate_type, aggregate_id, sequence, event_type,
                         event_version, payload, metadata, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    )
                    .map_err(unknown)?;
                let recorded_at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
                for event in &events {
                    insert
                        .execute(params![
                            uuid::Uuid::new_v4().to_string(),
                            aggregate_type,
                            event.aggregate_id,
                            event.sequence as i64,
                            event.event_type,
                            event.event_version,
                            event.payload.to_string(),
                            event.metadata.to_string(),
                            recorded_at,
                        ])
                        .map_err(conflict_or_unknown)?;
                    positions.push(tx.last_insert_rowid() as u64);
                }
            }
            if let Some(s) = snapshot {
                tx.execute(
                    "INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, snapshot_no, payload)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET
                       last_sequence = excluded.last_sequence, snapshot_no = excluded.snapshot_no,
                       payload = excluded.payload
                     WHERE excluded.last_sequence > snapshots.last_sequence",
                    params![
                        aggregate_type,
                        s.aggregate_id,
                        s.last_sequence as i64,
                        s.snapshot_no as i64,
                        s.state.to_string()
                    ],
                )
                .map_err(unknown)?;
            }
            tx.commit().map_err(conflict_or_unknown)?;
            Ok(positions)
        })
        .await
    }

    pub async fn stream_of(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after: u64,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let (aggregate_type, aggregate_id) = (aggregate_type.to_owned(), aggregate_id.to_owned());
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT aggregate_id, sequence, aggregate_type, event_type, event_version, payload, metadata
                     FROM events WHERE aggregate_type = ?1 AND aggregate_id = ?2 AND sequence > ?3 ORDER BY sequence",
                )
                .map_err(unknown)?;
            let rows = stmt
                .query_map(params![aggregate_type, aggregate_id, after as i64], |row| {
                    serialized(row, 0)
                })
                .map_err(unknown)?;
            rows.map(|r| r.map_err(unknown)?).collect()
        })
        .await
    }

    pub async fn snapshot(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        let (aggregate_type, aggregate_id) = (aggregate_type.to_owned(), aggregate_id.to_owned());
        self.read(move |conn| {
            let row = conn
                .query_row(
                    "SELECT last_sequence, snapshot_no, payload FROM snapshots
                     WHERE aggregate_type = ?1 AND aggregate_id = ?2",
                    params![aggregate_type, aggregate_id],
                    |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, String>(2)?)),
                )
                .optional()
                .map_err(unknown)?;
            row.map(|(last_sequence, snapshot_no, payload)| {
                Ok(SerializedSnapshot {
                    aggregate_id: aggregate_id.clone(),
                    aggregate: serde_json::from_str(&payload)?,
                    current_sequence: last_sequence as usize,
                    current_snapshot: snapshot_no as usize,
                })
            })
            .transpose()
        })
        .await
    }

    pub async fn read_after(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, PersistenceError> {
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT aggregate_id, sequence, aggregate_type, event_type, event_version, payload, metadata,
                            position, event_id, recorded_at
                     FROM events WHERE position > ?1 ORDER BY position LIMIT ?2",
                )
                .map_err(unknown)?;
            let rows = stmt
                .query_map(params![after as i64, limit as i64], |row| {
                    let event = serialized(row, 0)?;
                    let recorded_at: String = row.get(9)?;
                    Ok((row.get::<_, i64>(7)?, row.get::<_, String>(8)?, recorded_at, event))
                })
                .map_err(unknown)?;
            rows.map(|r| {
                let (position, event_id, recorded_at, event) = r.map_err(unknown)?;
                Ok(StoredEvent {
                    position: position as u64,
                    event_id,
                    recorded_at: DateTime::parse_from_rfc3339(&recorded_at)
                        .map_err(unknown)?
                        .with_timezone(&Utc),
                    event: event?,
                })
            })
            .collect()
        })
        .await
    }

    pub async fn head(&self) -> Result<u64, PersistenceError> {
        self.read(|conn| {
            conn.query_row("SELECT COALESCE(MAX(position), 0) FROM events", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|p| p as u64)
            .map_err(unknown)
        })
        .await
    }
}

/// Reads the seven SerializedEvent columns starting at `at`. JSON errors are
/// returned inside so the caller can map them to a deserialization error.
fn serialized(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Result<SerializedEvent, PersistenceError>> {
    let payload: String = row.get(at + 5)?;
    let metadata: String = row.get(at + 6)?;
    let aggregate_id = row.get(at)?;
    let sequence = row.get::<_, i64>(at + 1)? as usize;
    let aggregate_type = row.get(at + 2)?;
    let event_type = row.get(at + 3)?;
    let event_version = row.get(at + 4)?;
    Ok((|| {
        Ok(SerializedEvent {
            aggregate_id,
            sequence,
            aggregate_type,
            event_type,
            event_version,
            payload: serde_json::from_str(&payload)?,
            metadata: serde_json::from_str(&metadata)?,
        })
    })())
}

fn conflict_or_unknown(error: rusqlite::Error) -> PersistenceError {
    match error.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => PersistenceError::OptimisticLockError,
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => connection(error),
        _ => unknown(error),
    }
}
