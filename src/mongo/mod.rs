//! What every MongoDB store of the service shares: one client with the
//! timeouts and concerns production needs, the collection names (prefixed,
//! so stummel can live in the original Kippenstummel's database), the
//! transaction runner with its retry rules, tolerant number reading, and a
//! view of the server's reachability for fast failures and readiness.

pub mod health;
pub mod json;
pub mod num;
pub mod txn;

use futures_util::future::BoxFuture;
use mongodb::bson::{doc, Document};
use mongodb::options::{
    Acknowledgment, ClientOptions, CollectionOptions, ReadConcern, ReadPreference, SelectionCriteria,
    TransactionOptions, WriteConcern,
};
use mongodb::{Client, Collection, Database};
use std::sync::Arc;
use std::time::Duration;

pub use health::Reachability;

/// The prefix of every collection stummel creates, unless configured.
pub const DEFAULT_COLLECTION_PREFIX: &str = "stummel_";

/// How the service talks to MongoDB (from MONGO_* settings).
#[derive(Debug, Clone)]
pub struct MongoSettings {
    pub uri: String,
    /// Prepended to every collection name.
    pub collection_prefix: String,
    /// How long an operation waits for a writable server: long enough to
    /// ride out a replica-set election (typically a few seconds, up to ~12 s).
    pub server_selection_timeout: Duration,
    /// Upper bound of one store operation, its transaction retries included.
    pub operation_timeout: Duration,
    /// How long start-up waits for the first answer.
    pub connect_timeout: Duration,
}

impl MongoSettings {
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            collection_prefix: DEFAULT_COLLECTION_PREFIX.into(),
            server_selection_timeout: Duration::from_secs(15),
            operation_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// A connected database with stummel's naming and transaction settings.
#[derive(Clone)]
pub struct Mongo {
    pub client: Client,
    pub db: Database,
    prefix: String,
    operation_timeout: Duration,
    reachability: Arc<Reachability>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{0}")]
    Unreachable(String),
    /// Reachable, but cannot run stummel (standalone server, ...).
    #[error("{0}")]
    Unsuitable(String),
}

impl Mongo {
    /// Connects, checks that the server can run transactions (replica set or
    /// mongos: a standalone server is refused here rather than failing every
    /// append later) and returns the URI's default database (`stummel` when
    /// the URI names none).
    pub async fn connect(settings: &MongoSettings) -> Result<Self, ConnectError> {
        let unreachable = |e: String| ConnectError::Unreachable(e);
        let timeout = settings.connect_timeout;
        let mut options = tokio::time::timeout(timeout, ClientOptions::parse(&settings.uri))
            .await
            .map_err(|_| unreachable(format!("no answer within {timeout:?}")))?
            .map_err(|e| unreachable(e.to_string()))?;
        options
            .server_selection_timeout
            .get_or_insert(settings.server_selection_timeout);
        options.connect_timeout.get_or_insert(timeout);
        options.app_name.get_or_insert_with(|| "stummel".into());
        // A lost server is noticed (and a returning one found) within this
        // time even while no operation asks for it; see `health`.
        options.heartbeat_freq.get_or_insert(Duration::from_secs(1));
        // Acknowledged by a majority, so a failover cannot roll back what we
        // answered as done; read only what a majority has (see ARCHITECTURE.md).
        options.write_concern.get_or_insert_with(majority);
        options.read_concern.get_or_insert_with(ReadConcern::majority);
        let reachability = Arc::new(Reachability::new(settings.server_selection_timeout));
        options.sdam_event_handler = Some(reachability.clone().event_handler());
        let client = Client::with_options(options).map_err(|e| unreachable(e.to_string()))?;
        let db = client.default_database().unwrap_or_else(|| client.database("stummel"));
        let hello = tokio::time::timeout(timeout, db.run_command(doc! {"hello": 1}))
            .await
            .map_err(|_| unreachable(format!("no answer within {timeout:?}")))?
            .map_err(|e| unreachable(e.to_string()))?;
        check_topology(&hello).map_err(ConnectError::Unsuitable)?;
        Ok(Self {
            client,
            db,
            prefix: settings.collection_prefix.clone(),
            operation_timeout: settings.operation_timeout,
            reachability,
        })
    }

    /// A handle on an existing client and database (tests, benchmarks, tools)
    /// with the default prefix and timeouts; no reachability tracking.
    pub fn with_database(client: Client, db: Database) -> Self {
        let defaults = MongoSettings::new("");
        Self {
            client,
            db,
            prefix: defaults.collection_prefix,
            operation_timeout: defaults.operation_timeout,
            reachability: Arc::new(Reachability::untracked()),
        }
    }

    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn name(&self, collection: &str) -> String {
        format!("{}{collection}", self.prefix)
    }

    /// A collection handle reading what a majority has acknowledged and
    /// writing with majority acknowledgement (outside transactions; inside
    /// one, the transaction's concerns apply).
    pub fn collection(&self, collection: &str) -> Collection<Document> {
        self.db.collection_with_options(
            &self.name(collection),
            CollectionOptions::builder()
                .read_concern(ReadConcern::majority())
                .write_concern(majority())
                .build(),
        )
    }

    pub fn operation_timeout(&self) -> Duration {
        self.operation_timeout
    }

    pub fn reachability(&self) -> &Arc<Reachability> {
        &self.reachability
    }

    /// Transactions on the log and the checkpoints: snapshot reads (one
    /// consistent view for the check and the write) and majority writes.
    /// Snapshot, not just majority: on DocumentDB a read-committed
    /// transaction can read the counter document's old value after waiting
    /// for a concurrent `$inc` (a lost update that only the unique position
    /// index catches); with snapshot reads the loser gets a serialization
    /// failure and reruns.
    pub fn transaction_options(&self) -> TransactionOptions {
        TransactionOptions::builder()
            .read_concern(ReadConcern::snapshot())
            .write_concern(majority())
            .selection_criteria(SelectionCriteria::ReadPreference(ReadPreference::Primary))
            .max_commit_time(self.operation_timeout)
            .build()
    }

    /// Creates the collections that do not exist yet. Must run before the
    /// first transaction: not every server creates collections inside one,
    /// and an implicit creation there conflicts with concurrent transactions.
    pub async fn ensure_collections(&self, names: &[&str]) -> Result<(), mongodb::error::Error> {
        const NAMESPACE_EXISTS: i32 = 48;
        let existing = self.db.list_collection_names().await?;
        for name in names {
            let full = self.name(name);
            if existing.contains(&full) {
                continue;
            }
            match self.db.create_collection(&full).await {
                Ok(()) => {}
                // Another instance created it meanwhile.
                Err(e) if txn::has_code(&e, NAMESPACE_EXISTS) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Runs `callback` in a transaction with [`Mongo::transaction_options`]
    /// and the retry rules of [`txn`], bounded by the operation timeout.
    pub async fn transaction<C, R, F>(&self, context: C, callback: F) -> Result<R, txn::TxnError>
    where
        F: for<'b> FnMut(&'b mut mongodb::ClientSession, &'b mut C) -> BoxFuture<'b, Result<R, mongodb::error::Error>>,
    {
        self.transaction_where(txn::is_transient, context, callback).await
    }

    /// [`Mongo::transaction`], rerunning also on errors for which `transient` holds.
    pub async fn transaction_where<C, R, F>(
        &self,
        transient: fn(&mongodb::error::Error) -> bool,
        context: C,
        callback: F,
    ) -> Result<R, txn::TxnError>
    where
        F: for<'b> FnMut(&'b mut mongodb::ClientSession, &'b mut C) -> BoxFuture<'b, Result<R, mongodb::error::Error>>,
    {
        self.reachability.check().map_err(txn::TxnError::Failed)?;
        let options = self.transaction_options();
        txn::run(
            &self.client,
            &options,
            self.operation_timeout,
            transient,
            context,
            callback,
        )
        .await
    }

    /// Fails at once while the server has been unreachable for longer than
    /// the server-selection timeout; see [`Reachability`].
    pub fn check(&self) -> Result<(), mongodb::error::Error> {
        self.reachability.check()
    }
}

fn majority() -> WriteConcern {
    WriteConcern::builder().w(Acknowledgment::Majority).build()
}

/// Transactions need a replica set member or a mongos; a standalone server
/// answers `hello` with neither `setName` nor `msg: "isdbgrid"`.
pub fn check_topology(hello: &Document) -> Result<(), String> {
    let replica_set = hello.get_str("setName").is_ok();
    let mongos = hello.get_str("msg") == Ok("isdbgrid");
    if replica_set || mongos {
        Ok(())
    } else {
        Err(
            "MONGO_URI names a standalone MongoDB server; stummel needs a replica set (a single node is enough: \
             mongod --replSet rs0, then rs.initiate()) or a mongos, because every append is a transaction"
                .into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standalone_servers_are_refused_in_one_line() {
        assert!(check_topology(&doc! {"isWritablePrimary": true, "setName": "rs0"}).is_ok());
        assert!(check_topology(&doc! {"isWritablePrimary": true, "msg": "isdbgrid"}).is_ok());
        let error = check_topology(&doc! {"isWritablePrimary": true, "maxWireVersion": 21}).unwrap_err();
        assert!(error.contains("standalone") && !error.contains('\n'), "{error}");
    }
}
