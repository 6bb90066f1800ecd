//! Read-model store backends: embedded SQLite, Redis, MongoDB.

mod mongo;
mod mongo_query;
mod redis;
mod sqlite;
mod sqlite_query;

pub use self::redis::RedisReadStore;
pub use mongo::MongoReadStore;
pub use sqlite::SqliteReadStore;

use projections::StoreError;

pub(crate) fn unavailable(error: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

pub(crate) fn other(error: impl std::fmt::Display) -> StoreError {
    StoreError::Other(error.to_string())
}

/// Milliseconds since the epoch, for lease expiry.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
