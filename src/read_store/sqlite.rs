//! The embedded read-model store: a SQLite file next to the event store.

use super::sqlite_query;
use super::{now_ms, other, unavailable};
use async_trait::async_trait;
use projections::{bounded_range, ActiveModel, Change, DocQuery, Namespace, Queryable, ReadStore, StoreError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::RwLock;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS rm_docs (
    projection TEXT NOT NULL, generation INTEGER NOT NULL, collection TEXT NOT NULL, key TEXT NOT NULL,
    doc TEXT NOT NULL, PRIMARY KEY (projection, generation, collection, key)
);
CREATE TABLE IF NOT EXISTS rm_zsets (
    projection TEXT NOT NULL, generation INTEGER NOT NULL, set_name TEXT NOT NULL, member TEXT NOT NULL,
    score REAL NOT NULL, PRIMARY KEY (projection, generation, set_name, member)
);
CREATE INDEX IF NOT EXISTS rm_zsets_by_score ON rm_zsets (projection, generation, set_name, score DESC, member DESC);
CREATE TABLE IF NOT EXISTS rm_checkpoints (
    projection TEXT NOT NULL, generation INTEGER NOT NULL, position INTEGER NOT NULL,
    PRIMARY KEY (projection, generation)
);
CREATE TABLE IF NOT EXISTS rm_active (projection TEXT PRIMARY KEY, generation INTEGER NOT NULL, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rm_generations (projection TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL);
";

/// The declared queryable collections, by (projection, collection).
type Declared = Arc<RwLock<HashMap<(String, String), &'static Queryable>>>;

pub struct SqliteReadStore {
    writer: Arc<Mutex<Connection>>,
    /// Several readers, so concurrent queries do not wait for each other
    /// (WAL mode lets them read beside the writer).
    readers: Vec<Arc<Mutex<Connection>>>,
    next_reader: AtomicUsize,
    declared: Declared,
}

fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(unavailable)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(unavailable)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(unavailable)?;
    // A read model can always be rebuilt from the log: no fsync per commit.
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(unavailable)?;
    Ok(conn)
}

impl SqliteReadStore {
    /// Opens (creating when missing) `readmodels.db` in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| unavailable(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("readmodels.db");
        let writer = open(&path)?;
        writer.execute_batch(SCHEMA).map_err(unavailable)?;
        let count = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8);
        let readers = (0..count)
            .map(|_| {
                let reader = open(&path)?;
                sqlite_query::register_functions(&reader)?;
                Ok(Arc::new(Mutex::new(reader)))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Self {
            writer: Arc::new(Mutex::new(writer)),
            readers,
            next_reader: AtomicUsize::new(0),
            declared: Arc::default(),
        })
    }

    async fn with<T: Send + 'static>(
        conn: &Arc<Mutex<Connection>>,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().map_err(|_| other("read store connection poisoned"))?;
            f(&mut conn)
        })
        .await
        .map_err(other)?
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        Self::with(&self.readers[i], f).await
    }

    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        Self::with(&self.writer, f).await
    }
}

impl SqliteReadStore {
    /// Members ordered by score, ties by member, in `direction` (`ASC`/`DESC`).
    async fn zrange(
        &self,
        ns: &Namespace,
        set: &str,
        offset: usize,
        limit: usize,
        direction: &'static str,
    ) -> Result<Vec<(String, f64)>, StoreError> {
        let Some((offset, limit)) = projections::bounded_range(offset, limit) else {
            return Ok(Vec::new());
        };
        let (ns, set) = (ns.clone(), set.to_owned());
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT member, score FROM rm_zsets WHERE projection = ?1 AND generation = ?2 AND set_name = ?3
                     ORDER BY score {direction}, member {direction} LIMIT ?4 OFFSET ?5"
                ))
                .map_err(other)?;
            let rows = stmt
                .query_map(
                    params![ns.projection, ns.generation as i64, set, limit as i64, offset as i64],
                    |row| Ok((row.get::<_, String>(0)?, row.get::<_, f64>(1)?)),
                )
                .map_err(other)?;
            rows.map(|r| r.map_err(other)).collect()
        })
        .await
    }
}

/// A [`Change`] as the commit writes it: documents serialized and the typed
/// rows of queryable collections extracted before the batch moves to the
/// blocking pool, so it moves as text instead of as a copy of every document.
enum Write {
    Put {
        collection: String,
        key: String,
        doc: String,
        indexed: Option<(&'static Queryable, Vec<rusqlite::types::Value>)>,
    },
    Delete {
        collection: String,
        key: String,
        indexed: Option<&'static Queryable>,
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

impl SqliteReadStore {
    fn prepare_writes<'c>(&self, ns: &Namespace, changes: &'c [Change]) -> Result<Vec<Write>, StoreError> {
        let declared = self.declared.read().map_err(|_| other("declarations poisoned"))?;
        // Looked up once per collection, not once per change.
        let mut queryables: HashMap<&'c str, Option<&'static Queryable>> = HashMap::new();
        let mut queryable = |collection: &'c str| {
            *queryables
                .entry(collection)
                .or_insert_with(|| declared.get(&(ns.projection.clone(), collection.to_owned())).copied())
        };
        Ok(changes
            .iter()
            .map(|change| match change {
                Change::PutDoc { collection, key, doc } => Write::Put {
                    indexed: queryable(collection).map(|q| (q, sqlite_query::row(q, doc))),
                    collection: collection.clone(),
                    key: key.clone(),
                    doc: doc.to_string(),
                },
                Change::DeleteDoc { collection, key } => Write::Delete {
                    indexed: queryable(collection),
                    collection: collection.clone(),
                    key: key.clone(),
                },
                Change::ZAdd { set, member, score } => Write::ZAdd {
                    set: set.clone(),
                    member: member.clone(),
                    score: *score,
                },
                Change::ZRem { set, member } => Write::ZRem {
                    set: set.clone(),
                    member: member.clone(),
                },
            })
            .collect())
    }
}

/// A [`DocQuery`] that can move to the blocking pool.
struct OwnedQuery {
    predicate: Option<projections::rsql::Predicate>,
    within: Option<projections::rsql::BoundingBox>,
    offset: usize,
    limit: usize,
}

impl OwnedQuery {
    fn of(query: &DocQuery<'_>) -> Self {
        Self {
            predicate: query.predicate.cloned(),
            within: query.within,
            offset: query.offset,
            limit: query.limit,
        }
    }

    fn borrowed(&self) -> DocQuery<'_> {
        DocQuery {
            predicate: self.predicate.as_ref(),
            within: self.within,
            offset: self.offset,
            limit: self.limit,
        }
    }
}

impl SqliteReadStore {
    /// The queryable collections declared for `projection`.
    fn queryables_of(&self, projection: &str) -> Result<Vec<&'static Queryable>, StoreError> {
        Ok(self
            .declared
            .read()
            .map_err(|_| other("declarations poisoned"))?
            .iter()
            .filter(|((p, _), _)| p == projection)
            .map(|(_, q)| *q)
            .collect())
    }

    fn must_be_declared(&self, ns: &Namespace, queryable: &Queryable) -> Result<(), StoreError> {
        let declared = self.declared.read().map_err(|_| other("declarations poisoned"))?;
        if declared.contains_key(&(ns.projection.clone(), queryable.collection.to_owned())) {
            Ok(())
        } else {
            Err(other(format!(
                "{}/{} was never declared queryable",
                ns.projection, queryable.collection
            )))
        }
    }
}

/// A point read through the connection's statement cache: projections read
/// a document or more per event, and preparing the query each time cost more
/// than running it.
fn read_doc(conn: &Connection, ns: &Namespace, collection: &str, key: &str) -> Result<Option<Value>, StoreError> {
    let doc: Option<String> = conn
        .prepare_cached(
            "SELECT doc FROM rm_docs WHERE projection = ?1 AND generation = ?2 AND collection = ?3 AND key = ?4",
        )
        .and_then(|mut s| {
            s.query_row(params![ns.projection, ns.generation as i64, collection, key], |row| {
                row.get(0)
            })
            .optional()
        })
        .map_err(other)?;
    doc.map(|d| serde_json::from_str(&d).map_err(other)).transpose()
}

fn checkpoint_of(conn: &Connection, ns: &Namespace) -> Result<u64, StoreError> {
    conn.query_row(
        "SELECT position FROM rm_checkpoints WHERE projection = ?1 AND generation = ?2",
        params![ns.projection, ns.generation as i64],
        |row| row.get::<_, i64>(0),
    )
    .optional()
    .map(|p| p.unwrap_or(0) as u64)
    .map_err(other)
}

#[async_trait]
impl ReadStore for SqliteReadStore {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(unavailable))
            .await
    }

    async fn get_doc(&self, ns: &Namespace, collection: &str, key: &str) -> Result<Option<Value>, StoreError> {
        let (ns, collection, key) = (ns.clone(), collection.to_owned(), key.to_owned());
        self.read(move |conn| read_doc(conn, &ns, &collection, &key)).await
    }

    /// One trip to the blocking pool and one prepared statement for all keys.
    async fn get_docs(
        &self,
        ns: &Namespace,
        collection: &str,
        keys: &[String],
    ) -> Result<Vec<Option<Value>>, StoreError> {
        let (ns, collection, keys) = (ns.clone(), collection.to_owned(), keys.to_vec());
        self.read(move |conn| keys.iter().map(|key| read_doc(conn, &ns, &collection, key)).collect())
            .await
    }

    async fn list_docs(&self, ns: &Namespace, collection: &str) -> Result<Vec<(String, Value)>, StoreError> {
        let (ns, collection) = (ns.clone(), collection.to_owned());
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT key, doc FROM rm_docs WHERE projection = ?1 AND generation = ?2 AND collection = ?3
                     ORDER BY key",
                )
                .map_err(other)?;
            let rows = stmt
                .query_map(params![ns.projection, ns.generation as i64, collection], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .map_err(other)?;
            rows.map(|r| {
                let (key, doc) = r.map_err(other)?;
                Ok((key, serde_json::from_str(&doc).map_err(other)?))
            })
            .collect()
        })
        .await
    }

    async fn zscore(&self, ns: &Namespace, set: &str, member: &str) -> Result<Option<f64>, StoreError> {
        let (ns, set, member) = (ns.clone(), set.to_owned(), member.to_owned());
        self.read(move |conn| {
            conn.query_row(
                "SELECT score FROM rm_zsets WHERE projection = ?1 AND generation = ?2 AND set_name = ?3 AND member = ?4",
                params![ns.projection, ns.generation as i64, set, member],
                |row| row.get(0),
            )
            .optional()
            .map_err(other)
        })
        .await
    }

    async fn zrange_desc(
        &self,
        ns: &Namespace,
        set: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(String, f64)>, StoreError> {
        self.zrange(ns, set, offset, limit, "DESC").await
    }

    async fn zrange_asc(
        &self,
        ns: &Namespace,
        set: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(String, f64)>, StoreError> {
        self.zrange(ns, set, offset, limit, "ASC").await
    }

    async fn zcard(&self, ns: &Namespace, set: &str) -> Result<u64, StoreError> {
        let (ns, set) = (ns.clone(), set.to_owned());
        self.read(move |conn| {
            conn.query_row(
                "SELECT COUNT(*) FROM rm_zsets WHERE projection = ?1 AND generation = ?2 AND set_name = ?3",
                params![ns.projection, ns.generation as i64, set],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(other)
        })
        .await
    }

    async fn declare(&self, projection: &str, queryables: &'static [Queryable]) -> Result<(), StoreError> {
        let owned = projection.to_owned();
        self.write(move |conn| {
            for q in queryables {
                sqlite_query::create(conn, &owned, q)?;
                sqlite_query::analyze_if_never(conn, &owned, q)?;
            }
            Ok(())
        })
        .await?;
        let mut declared = self.declared.write().map_err(|_| other("declarations poisoned"))?;
        for q in queryables {
            declared.insert((projection.to_owned(), q.collection.to_owned()), q);
        }
        Ok(())
    }

    async fn query_docs(
        &self,
        ns: &Namespace,
        queryable: &'static Queryable,
        query: &DocQuery<'_>,
    ) -> Result<Vec<(String, Value)>, StoreError> {
        let Some(range) = bounded_range(query.offset, query.limit) else {
            return Ok(Vec::new());
        };
        self.must_be_declared(ns, queryable)?;
        let (ns, query) = (ns.clone(), OwnedQuery::of(query));
        self.read(move |conn| sqlite_query::select_docs(conn, &ns, queryable, &query.borrowed(), range))
            .await
    }

    async fn count_docs(
        &self,
        ns: &Namespace,
        queryable: &'static Queryable,
        query: &DocQuery<'_>,
    ) -> Result<u64, StoreError> {
        self.must_be_declared(ns, queryable)?;
        let (ns, query) = (ns.clone(), OwnedQuery::of(query));
        self.read(move |conn| sqlite_query::count(conn, &ns, queryable, &query.borrowed()))
            .await
    }

    async fn query_positions(
        &self,
        ns: &Namespace,
        queryable: &'static Queryable,
        query: &DocQuery<'_>,
    ) -> Result<Vec<(String, f64, f64)>, StoreError> {
        self.must_be_declared(ns, queryable)?;
        let (ns, query) = (ns.clone(), OwnedQuery::of(query));
        self.read(move |conn| sqlite_query::positions(conn, &ns, queryable, &query.borrowed()))
            .await
    }

    async fn checkpoint(&self, ns: &Namespace) -> Result<u64, StoreError> {
        let ns = ns.clone();
        self.read(move |conn| checkpoint_of(conn, &ns)).await
    }

    async fn commit(&self, ns: &Namespace, expected: u64, new: u64, changes: &[Change]) -> Result<(), StoreError> {
        let writes = self.prepare_writes(ns, changes)?;
        let ns = ns.clone();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(unavailable)?;
            let found = checkpoint_of(&tx, &ns)?;
            if found != expected {
                return Err(StoreError::Fenced { expected, found });
            }
            let (p, g) = (&ns.projection, ns.generation as i64);
            for write in writes {
                match write {
                    Write::Put {
                        collection,
                        key,
                        doc,
                        indexed,
                    } => {
                        if let Some((q, row)) = indexed {
                            sqlite_query::write(&tx, &ns, q, &key, Some(row))?;
                        }
                        tx.prepare_cached(
                            "INSERT OR REPLACE INTO rm_docs (projection, generation, collection, key, doc)
                             VALUES (?1, ?2, ?3, ?4, ?5)",
                        )
                        .and_then(|mut s| s.execute(params![p, g, collection, key, doc]))
                    }
                    Write::Delete {
                        collection,
                        key,
                        indexed,
                    } => {
                        if let Some(q) = indexed {
                            sqlite_query::write(&tx, &ns, q, &key, None)?;
                        }
                        tx.prepare_cached(
                            "DELETE FROM rm_docs WHERE projection = ?1 AND generation = ?2 AND collection = ?3 AND key = ?4",
                        )
                        .and_then(|mut s| s.execute(params![p, g, collection, key]))
                    }
                    Write::ZAdd { set, member, score } => tx
                        .prepare_cached(
                            "INSERT OR REPLACE INTO rm_zsets (projection, generation, set_name, member, score)
                             VALUES (?1, ?2, ?3, ?4, ?5)",
                        )
                        .and_then(|mut s| s.execute(params![p, g, set, member, score])),
                    Write::ZRem { set, member } => tx
                        .prepare_cached(
                            "DELETE FROM rm_zsets WHERE projection = ?1 AND generation = ?2 AND set_name = ?3 AND member = ?4",
                        )
                        .and_then(|mut s| s.execute(params![p, g, set, member])),
                }
                .map_err(other)?;
            }
            tx.execute(
                "INSERT OR REPLACE INTO rm_checkpoints (projection, generation, position) VALUES (?1, ?2, ?3)",
                params![p, g, new as i64],
            )
            .map_err(other)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn active(&self, projection: &str) -> Result<Option<ActiveModel>, StoreError> {
        let projection = projection.to_owned();
        self.read(move |conn| {
            conn.query_row(
                "SELECT generation, version FROM rm_active WHERE projection = ?1",
                params![projection],
                |row| {
                    Ok(ActiveModel {
                        generation: row.get::<_, i64>(0)? as u64,
                        version: row.get::<_, i64>(1)? as u32,
                    })
                },
            )
            .optional()
            .map_err(other)
        })
        .await
    }

    async fn activate(&self, projection: &str, model: ActiveModel) -> Result<(), StoreError> {
        let queryables = self.queryables_of(projection)?;
        let projection = projection.to_owned();
        self.write(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO rm_active (projection, generation, version) VALUES (?1, ?2, ?3)",
                params![projection, model.generation as i64, model.version as i64],
            )
            .map_err(other)?;
            // A rebuilt generation is the moment the typed tables changed most.
            for q in queryables {
                sqlite_query::analyze(conn, &projection, q)?;
            }
            Ok(())
        })
        .await
    }

    async fn next_generation(&self, projection: &str) -> Result<u64, StoreError> {
        let projection = projection.to_owned();
        self.write(move |conn| {
            conn.query_row(
                "INSERT INTO rm_generations (projection, last) VALUES (?1, 1)
                 ON CONFLICT (projection) DO UPDATE SET last = last + 1 RETURNING last",
                params![projection],
                |row| row.get::<_, i64>(0),
            )
            .map(|g| g as u64)
            .map_err(other)
        })
        .await
    }

    async fn drop_generation(&self, ns: &Namespace) -> Result<(), StoreError> {
        let ns = ns.clone();
        let queryables: Vec<&'static Queryable> = self
            .declared
            .read()
            .map_err(|_| other("declarations poisoned"))?
            .iter()
            .filter(|((projection, _), _)| *projection == ns.projection)
            .map(|(_, q)| *q)
            .collect();
        self.write(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            for q in queryables {
                sqlite_query::drop_generation(&tx, &ns, q)?;
            }
            for table in ["rm_docs", "rm_zsets", "rm_checkpoints"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE projection = ?1 AND generation = ?2"),
                    params![ns.projection, ns.generation as i64],
                )
                .map_err(other)?;
            }
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn try_lease(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let (name, owner) = (name.to_owned(), owner.to_owned());
        self.write(move |conn| {
            let now = now_ms();
            let changed = conn
                .execute(
                    "INSERT INTO leases (name, owner, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
                     WHERE leases.owner = excluded.owner OR leases.expires_at <= ?4",
                    params![name, owner, now + ttl.as_millis() as i64, now],
                )
                .map_err(other)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn try_leases(&self, names: &[String], owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let (names, owner) = (names.to_vec(), owner.to_owned());
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let now = now_ms();
            for name in &names {
                let taken = tx
                    .prepare_cached(
                        "INSERT INTO leases (name, owner, expires_at) VALUES (?1, ?2, ?3)
                         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
                         WHERE leases.owner = excluded.owner OR leases.expires_at <= ?4",
                    )
                    .and_then(|mut s| s.execute(params![name, owner, now + ttl.as_millis() as i64, now]))
                    .map_err(other)?;
                if taken != 1 {
                    return Ok(false); // dropping the transaction rolls back what it took
                }
            }
            tx.commit().map_err(unavailable)?;
            Ok(true)
        })
        .await
    }

    async fn release_leases(&self, names: &[String], owner: &str) -> Result<(), StoreError> {
        let (names, owner) = (names.to_vec(), owner.to_owned());
        self.write(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            for name in &names {
                tx.prepare_cached("DELETE FROM leases WHERE name = ?1 AND owner = ?2")
                    .and_then(|mut s| s.execute(params![name, owner]))
                    .map_err(other)?;
            }
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn release_lease(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        let (name, owner) = (name.to_owned(), owner.to_owned());
        self.write(move |conn| {
            conn.execute(
                "DELETE FROM leases WHERE name = ?1 AND owner = ?2",
                params![name, owner],
            )
            .map(|_| ())
            .map_err(other)
        })
        .await
    }
}
