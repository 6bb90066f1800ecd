//! Identity documents (CRUD, as in the original): the identity, its bcrypt
//! secret hash, its erasable reference, username/suffix, trusted flag and
//! activity times. This document is also the only mapping from an identity
//! to the reference that events and read models use: deleting it anonymises
//! the identity's whole history.

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, PartialEq)]
pub struct IdentDoc {
    pub identity: String,
    pub secret_hash: String,
    /// Erasable reference used in events and read models instead of the identity.
    pub reference: String,
    pub username: Option<String>,
    pub suffix: Option<String>,
    pub trusted: bool,
    pub last_active_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl IdentDoc {
    /// `username#suffix` when both are set.
    pub fn display_name(&self) -> Option<String> {
        match (&self.username, &self.suffix) {
            (Some(u), Some(s)) if !u.is_empty() && !s.is_empty() => Some(format!("{u}#{s}")),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsernameChange {
    Done,
    /// The (username, suffix) pair belongs to another identity.
    Taken,
    Unknown,
}

#[derive(Debug, thiserror::Error)]
#[error("identity store: {0}")]
pub struct IdentStoreError(pub String);

fn failed(e: impl std::fmt::Display) -> IdentStoreError {
    IdentStoreError(e.to_string())
}

#[async_trait]
pub trait IdentStore: Send + Sync {
    async fn insert(&self, doc: &IdentDoc) -> Result<(), IdentStoreError>;
    async fn get(&self, identity: &str) -> Result<Option<IdentDoc>, IdentStoreError>;
    async fn get_by_reference(&self, references: &[String]) -> Result<Vec<IdentDoc>, IdentStoreError>;
    /// Sets (or with `None` clears) the username; `suffix` is set too when given.
    async fn set_username(
        &self,
        identity: &str,
        username: Option<&str>,
        suffix: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<UsernameChange, IdentStoreError>;
    /// False when the identity is unknown.
    async fn set_trusted(&self, identity: &str, trusted: bool, now: DateTime<Utc>) -> Result<bool, IdentStoreError>;
    /// Sets `last_active_at = now` when the stored value is older than `stale_before`.
    async fn touch(
        &self,
        identity: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<(), IdentStoreError>;
    /// Removes the document and returns it.
    async fn delete(&self, identity: &str) -> Result<Option<IdentDoc>, IdentStoreError>;
    /// Every identity in creation order (the KMC list filters and pages it).
    async fn all(&self) -> Result<Vec<IdentDoc>, IdentStoreError>;
}

fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_ts(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

/// The embedded store: `identities.db` (synchronous=FULL: this data cannot be rebuilt).
pub struct SqliteIdents {
    conn: Arc<Mutex<Connection>>,
}

const COLUMNS: &str =
    "identity, secret_hash, reference, username, suffix, trusted, last_active_at, created_at, updated_at";

fn row_to_doc(row: &rusqlite::Row<'_>) -> rusqlite::Result<IdentDoc> {
    Ok(IdentDoc {
        identity: row.get(0)?,
        secret_hash: row.get(1)?,
        reference: row.get(2)?,
        username: row.get(3)?,
        suffix: row.get(4)?,
        trusted: row.get(5)?,
        last_active_at: parse_ts(&row.get::<_, String>(6)?)?,
        created_at: parse_ts(&row.get::<_, String>(7)?)?,
        updated_at: parse_ts(&row.get::<_, String>(8)?)?,
    })
}

impl SqliteIdents {
    pub fn open(dir: &Path) -> Result<Self, IdentStoreError> {
        std::fs::create_dir_all(dir).map_err(failed)?;
        let conn = Connection::open(dir.join("identities.db")).map_err(failed)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(failed)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(failed)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(failed)?;
        // Erasure must really erase: deleted rows are overwritten, not left in free pages.
        conn.pragma_update(None, "secure_delete", "ON").map_err(failed)?;
        // SQLite treats NULLs as distinct in UNIQUE: a cleared username never collides (bug 18).
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS idents (
                seq INTEGER PRIMARY KEY,
                identity TEXT NOT NULL UNIQUE,
                secret_hash TEXT NOT NULL,
                reference TEXT NOT NULL UNIQUE,
                username TEXT, suffix TEXT,
                trusted INTEGER NOT NULL DEFAULT 0,
                last_active_at TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
                UNIQUE (username, suffix)
            );",
        )
        .map_err(failed)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, IdentStoreError> + Send + 'static,
    ) -> Result<T, IdentStoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().map_err(|_| failed("identity store poisoned"))?;
            f(&mut conn)
        })
        .await
        .map_err(failed)?
    }
}

#[async_trait]
impl IdentStore for SqliteIdents {
    async fn insert(&self, d: &IdentDoc) -> Result<(), IdentStoreError> {
        let d = d.clone();
        self.with(move |c| {
            c.execute(
                &format!("INSERT INTO idents ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                params![
                    d.identity,
                    d.secret_hash,
                    d.reference,
                    d.username,
                    d.suffix,
                    d.trusted,
                    ts(&d.last_active_at),
                    ts(&d.created_at),
                    ts(&d.updated_at)
                ],
            )
            .map(|_| ())
            .map_err(failed)
        })
        .await
    }

    async fn get(&self, identity: &str) -> Result<Option<IdentDoc>, IdentStoreError> {
        let identity = identity.to_owned();
        self.with(move |c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM idents WHERE identity = ?1"),
                [identity],
                row_to_doc,
            )
            .optional()
            .map_err(failed)
        })
        .await
    }

    async fn get_by_reference(&self, references: &[String]) -> Result<Vec<IdentDoc>, IdentStoreError> {
        let references = references.to_vec();
        self.with(move |c| {
            let mut stmt = c
                .prepare_cached(&format!("SELECT {COLUMNS} FROM idents WHERE reference = ?1"))
                .map_err(failed)?;
            let mut found = Vec::new();
            for reference in references {
                if let Some(doc) = stmt.query_row([reference], row_to_doc).optional().map_err(failed)? {
                    found.push(doc);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn set_username(
        &self,
        identity: &str,
        username: Option<&str>,
        suffix: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<UsernameChange, IdentStoreError> {
        let (identity, username, suffix) = (
            identity.to_owned(),
            username.map(str::to_owned),
            suffix.map(str::to_owned),
        );
        self.with(move |c| {
            let result = c.execute(
                "UPDATE idents SET username = ?2, suffix = COALESCE(?3, suffix), updated_at = ?4 WHERE identity = ?1",
                params![identity, username, suffix, ts(&now)],
            );
            match result {
                Ok(0) => Ok(UsernameChange::Unknown),
                Ok(_) => Ok(UsernameChange::Done),
                Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => {
                    Ok(UsernameChange::Taken)
                }
                Err(e) => Err(failed(e)),
            }
        })
        .await
    }

    async fn set_trusted(&self, identity: &str, trusted: bool, now: DateTime<Utc>) -> Result<bool, IdentStoreError> {
        let identity = identity.to_owned();
        self.with(move |c| {
            c.execute(
                "UPDATE idents SET trusted = ?2, updated_at = ?3 WHERE identity = ?1",
                params![identity, trusted, ts(&now)],
            )
            .map(|n| n == 1)
            .map_err(failed)
        })
        .await
    }

    async fn touch(
        &self,
        identity: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<(), IdentStoreError> {
        let identity = identity.to_owned();
        self.with(move |c| {
            c.execute(
                "UPDATE idents SET last_active_at = ?2 WHERE identity = ?1 AND last_active_at < ?3",
                params![identity, ts(&now), ts(&stale_before)],
            )
            .map(|_| ())
            .map_err(failed)
        })
        .await
    }

    async fn delete(&self, identity: &str) -> Result<Option<IdentDoc>, IdentStoreError> {
        let identity = identity.to_owned();
        self.with(move |c| {
            let tx = c.transaction().map_err(failed)?;
            let found = tx
                .query_row(
                    &format!("SELECT {COLUMNS} FROM idents WHERE identity = ?1"),
                    [&identity],
                    row_to_doc,
                )
                .optional()
                .map_err(failed)?;
            tx.execute("DELETE FROM idents WHERE identity = ?1", [&identity])
                .map_err(failed)?;
            tx.commit().map_err(failed)?;
            // Older page images in the write-ahead log still hold the row: fold the
            // log into the database (where secure_delete zeroed it) and empty it.
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(failed)?;
            Ok(found)
        })
        .await
    }

    async fn all(&self) -> Result<Vec<IdentDoc>, IdentStoreError> {
        self.with(|c| {
            let mut stmt = c
                .prepare_cached(&format!("SELECT {COLUMNS} FROM idents ORDER BY seq"))
                .map_err(failed)?;
            let rows = stmt.query_map([], row_to_doc).map_err(failed)?;
            rows.map(|r| r.map_err(failed)).collect()
        })
        .await
    }
}

/// The MongoDB store: collection `idents` (with the configured prefix:
/// `stummel_idents`, so the original Kippenstummel's `idents` is never touched).
pub struct MongoIdents {
    mongo: crate::mongo::Mongo,
    idents: Collection<Document>,
}

fn bson_time(t: &DateTime<Utc>) -> mongodb::bson::DateTime {
    mongodb::bson::DateTime::from_millis(t.timestamp_millis())
}

fn doc_to_ident(d: &Document) -> Result<IdentDoc, IdentStoreError> {
    let time = |k: &str| -> Result<DateTime<Utc>, IdentStoreError> {
        let t = d.get_datetime(k).map_err(failed)?;
        DateTime::from_timestamp_millis(t.timestamp_millis()).ok_or_else(|| failed("timestamp out of range"))
    };
    let text = |k: &str| d.get_str(k).ok().map(str::to_owned);
    Ok(IdentDoc {
        identity: d.get_str("identity").map_err(failed)?.to_owned(),
        secret_hash: d.get_str("secret").map_err(failed)?.to_owned(),
        reference: d.get_str("reference").map_err(failed)?.to_owned(),
        username: text("username"),
        suffix: text("suffix"),
        trusted: d.get_bool("trusted").unwrap_or(false),
        last_active_at: time("lastActiveAt")?,
        created_at: time("createdAt")?,
        updated_at: time("updatedAt")?,
    })
}

fn duplicate_key(e: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == 11000,
        ErrorKind::Command(c) => c.code == 11000,
        _ => false,
    }
}

impl MongoIdents {
    /// The store in `db` with the default collection prefix.
    pub async fn new(db: &mongodb::Database) -> Result<Self, IdentStoreError> {
        Self::open(&crate::mongo::Mongo::with_database(db.client().clone(), db.clone())).await
    }

    pub async fn open(mongo: &crate::mongo::Mongo) -> Result<Self, IdentStoreError> {
        mongo.ensure_collections(&["idents"]).await.map_err(failed)?;
        let idents = mongo.collection("idents");
        let unique = IndexOptions::builder().unique(true).build();
        idents
            .create_indexes([
                IndexModel::builder()
                    .keys(doc! {"identity": 1})
                    .options(unique.clone())
                    .build(),
                IndexModel::builder()
                    .keys(doc! {"reference": 1})
                    .options(unique)
                    .build(),
                // Only set usernames take part: a cleared one never collides (bug 18).
                IndexModel::builder()
                    .keys(doc! {"username": 1, "suffix": 1})
                    .options(
                        IndexOptions::builder()
                            .unique(true)
                            .partial_filter_expression(doc! {"username": {"$type": "string"}})
                            .build(),
                    )
                    .build(),
                IndexModel::builder().keys(doc! {"createdAt": 1}).build(),
            ])
            .await
            .map_err(failed)?;
        Ok(Self {
            mongo: mongo.clone(),
            idents,
        })
    }

    /// Fails at once while MongoDB is known to be down (see `crate::mongo::health`).
    fn up(&self) -> Result<(), IdentStoreError> {
        self.mongo.check().map_err(failed)
    }
}

#[async_trait]
impl IdentStore for MongoIdents {
    async fn insert(&self, d: &IdentDoc) -> Result<(), IdentStoreError> {
        self.up()?;
        let mut row = doc! {
            "identity": &d.identity, "secret": &d.secret_hash, "reference": &d.reference,
            "trusted": d.trusted, "lastActiveAt": bson_time(&d.last_active_at),
            "createdAt": bson_time(&d.created_at), "updatedAt": bson_time(&d.updated_at),
        };
        if let Some(u) = &d.username {
            row.insert("username", u);
        }
        if let Some(s) = &d.suffix {
            row.insert("suffix", s);
        }
        self.idents.insert_one(row).await.map(|_| ()).map_err(failed)
    }

    async fn get(&self, identity: &str) -> Result<Option<IdentDoc>, IdentStoreError> {
        self.up()?;
        let found = self
            .idents
            .find_one(doc! {"identity": identity})
            .await
            .map_err(failed)?;
        found.as_ref().map(doc_to_ident).transpose()
    }

    async fn get_by_reference(&self, references: &[String]) -> Result<Vec<IdentDoc>, IdentStoreError> {
        self.up()?;
        let rows: Vec<Document> = self
            .idents
            .find(doc! {"reference": {"$in": references}})
            .await
            .map_err(failed)?
            .try_collect()
            .await
            .map_err(failed)?;
        rows.iter().map(doc_to_ident).collect()
    }

    async fn set_username(
        &self,
        identity: &str,
        username: Option<&str>,
        suffix: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<UsernameChange, IdentStoreError> {
        self.up()?;
        let mut set = doc! {"updatedAt": bson_time(&now)};
        set.insert("username", username.map_or(mongodb::bson::Bson::Null, |u| u.into()));
        if let Some(s) = suffix {
            set.insert("suffix", s);
        }
        match self
            .idents
            .update_one(doc! {"identity": identity}, doc! {"$set": set})
            .await
        {
            Ok(r) if r.matched_count == 0 => Ok(UsernameChange::Unknown),
            Ok(_) => Ok(UsernameChange::Done),
            Err(e) if duplicate_key(&e) => Ok(UsernameChange::Taken),
            Err(e) => Err(failed(e)),
        }
    }

    async fn set_trusted(&self, identity: &str, trusted: bool, now: DateTime<Utc>) -> Result<bool, IdentStoreError> {
        self.up()?;
        let r = self
            .idents
            .update_one(
                doc! {"identity": identity},
                doc! {"$set": {"trusted": trusted, "updatedAt": bson_time(&now)}},
            )
            .await
            .map_err(failed)?;
        Ok(r.matched_count == 1)
    }

    async fn touch(
        &self,
        identity: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<(), IdentStoreError> {
        self.up()?;
        self.idents
            .update_one(
                doc! {"identity": identity, "lastActiveAt": {"$lt": bson_time(&stale_before)}},
                doc! {"$set": {"lastActiveAt": bson_time(&now)}},
            )
            .await
            .map(|_| ())
            .map_err(failed)
    }

    async fn delete(&self, identity: &str) -> Result<Option<IdentDoc>, IdentStoreError> {
        self.up()?;
        let found = self
            .idents
            .find_one_and_delete(doc! {"identity": identity})
            .await
            .map_err(failed)?;
        found.as_ref().map(doc_to_ident).transpose()
    }

    async fn all(&self) -> Result<Vec<IdentDoc>, IdentStoreError> {
        self.up()?;
        let rows: Vec<Document> = self
            .idents
            .find(doc! {})
            .sort(doc! {"createdAt": 1, "_id": 1})
            .await
            .map_err(failed)?
            .try_collect()
            .await
            .map_err(failed)?;
        rows.iter().map(doc_to_ident).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn doc(identity: &str, reference: &str, last_active_at: DateTime<Utc>) -> IdentDoc {
        IdentDoc {
            identity: identity.into(),
            secret_hash: "hash".into(),
            reference: reference.into(),
            username: None,
            suffix: None,
            trusted: false,
            last_active_at,
            created_at: last_active_at,
            updated_at: last_active_at,
        }
    }

    #[tokio::test]
    async fn last_active_is_only_rewritten_when_stale() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteIdents::open(dir.path()).unwrap();
        let now: DateTime<Utc> = "2026-11-25T12:00:00Z".parse().unwrap();
        store
            .insert(&doc("a", "ref-a", now - Duration::minutes(20)))
            .await
            .unwrap();
        store.touch("a", now, now - Duration::minutes(15)).await.unwrap();
        assert_eq!(store.get("a").await.unwrap().unwrap().last_active_at, now);
        let later = now + Duration::minutes(5);
        store.touch("a", later, later - Duration::minutes(15)).await.unwrap();
        assert_eq!(
            store.get("a").await.unwrap().unwrap().last_active_at,
            now,
            "fresh enough: untouched"
        );
        store.touch("unknown", now, now).await.unwrap();
    }

    #[tokio::test]
    async fn usernames_are_unique_per_suffix_and_clearing_never_collides() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteIdents::open(dir.path()).unwrap();
        let now = Utc::now();
        store.insert(&doc("a", "ref-a", now)).await.unwrap();
        store.insert(&doc("b", "ref-b", now)).await.unwrap();
        assert_eq!(
            store.set_username("a", Some("alice"), Some("1234"), now).await.unwrap(),
            UsernameChange::Done
        );
        assert_eq!(
            store.set_username("b", Some("alice"), Some("1234"), now).await.unwrap(),
            UsernameChange::Taken
        );
        assert_eq!(
            store.set_username("b", Some("alice"), Some("4321"), now).await.unwrap(),
            UsernameChange::Done
        );
        // Both cleared with the same suffix: no collision (bug 18).
        assert_eq!(
            store.set_username("b", Some("bob"), Some("1234"), now).await.unwrap(),
            UsernameChange::Done
        );
        assert_eq!(
            store.set_username("a", None, None, now).await.unwrap(),
            UsernameChange::Done
        );
        assert_eq!(
            store.set_username("b", None, None, now).await.unwrap(),
            UsernameChange::Done
        );
        assert_eq!(
            store.set_username("zzz", Some("x"), None, now).await.unwrap(),
            UsernameChange::Unknown
        );
        let a = store.get("a").await.unwrap().unwrap();
        assert_eq!((a.username, a.suffix.as_deref()), (None, Some("1234")));
        assert_eq!(
            store
                .get_by_reference(&["ref-b".into(), "nope".into()])
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(store.delete("a").await.unwrap().unwrap().reference, "ref-a");
        assert!(store.get("a").await.unwrap().is_none());
        assert!(store.delete("a").await.unwrap().is_none());
    }
}
