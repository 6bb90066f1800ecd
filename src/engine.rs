//! Wiring: from a [`Config`] to connected stores, the event repository and
//! the projectors. Shared by `serve`, `replay`, `projections` and `loadgen`.

use crate::config::Config;
use crate::devmarkt::Devmarkt;
use crate::event_store::{EventRepository, MongoEventStore, SqliteEventStore};
use crate::kippenstummel::idents::{IdentStore, MongoIdents, SqliteIdents};
use crate::kippenstummel::tokens::{MemoryTokens, RedisTokens, TokenStore};
use crate::kippenstummel::Kippenstummel;
use crate::metrics::Metrics;
use crate::read_store::{MongoReadStore, RedisReadStore, SqliteReadStore};
use crate::upcasters;
use projections::{Projection, ProjectionStatus, Projector, ProjectorConfig, ReadStore};
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Which kind of read-model store a projection wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreRole {
    /// Hot, shaped data (sorted sets, tiles, tokens): Redis when configured.
    Hot,
    /// Documents that are filtered and paged: MongoDB when configured.
    Documents,
}

/// Every projection the service runs, with the store it lives in.
pub fn registered_projections() -> Vec<(Arc<dyn Projection>, StoreRole)> {
    use projections::kippenstummel::{credibility::Credibility, cvms::Cvms, karma::Karma, tiles::Tiles};
    let mut all: Vec<(Arc<dyn Projection>, StoreRole)> = vec![
        (Arc::new(projections::stats::EventStats), StoreRole::Documents),
        (Arc::new(Karma), StoreRole::Hot),
        (Arc::new(Credibility), StoreRole::Hot),
        (Arc::new(Cvms), StoreRole::Documents),
        (Arc::new(Tiles), StoreRole::Hot),
    ];
    all.extend(
        projections::devmarkt::all()
            .into_iter()
            .map(|p| (p, StoreRole::Documents)),
    );
    all
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot reach {what} at {setting}: {reason}")]
    Unreachable {
        what: &'static str,
        setting: &'static str,
        reason: String,
    },
    #[error("cannot open the embedded store in {dir}: {reason}")]
    Embedded { dir: String, reason: String },
    #[error("cannot prepare the read model {projection}: {reason}")]
    ReadModel { projection: &'static str, reason: String },
}

pub struct Engine {
    pub config: Config,
    pub metrics: Metrics,
    pub events: EventRepository,
    pub hot: Arc<dyn ReadStore>,
    pub documents: Arc<dyn ReadStore>,
    pub projectors: Vec<Arc<Projector>>,
    pub kippenstummel: Arc<Kippenstummel>,
    pub devmarkt: Arc<Devmarkt>,
}

async fn connect_mongo(
    uri: &str,
    timeout: std::time::Duration,
) -> Result<(mongodb::Client, mongodb::Database), String> {
    let mut options = tokio::time::timeout(timeout, mongodb::options::ClientOptions::parse(uri))
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))?
        .map_err(|e| e.to_string())?;
    options.server_selection_timeout.get_or_insert(timeout);
    options.connect_timeout.get_or_insert(timeout);
    options.app_name.get_or_insert_with(|| "stummel".into());
    let client = mongodb::Client::with_options(options).map_err(|e| e.to_string())?;
    let db = client.default_database().unwrap_or_else(|| client.database("stummel"));
    db.run_command(mongodb::bson::doc! {"ping": 1})
        .await
        .map_err(|e| e.to_string())?;
    Ok((client, db))
}

impl Engine {
    /// Connects to every configured server *before* creating anything, so a
    /// bad URI or an unreachable server stops start-up with nothing written.
    pub async fn start(config: Config) -> Result<Self, StartupError> {
        let metrics = Metrics::new();
        let redis = match &config.redis_uri {
            Some(uri) => Some(
                RedisReadStore::connect(uri, &config.redis_key_prefix, config.connect_timeout)
                    .await
                    .map_err(|e| StartupError::Unreachable {
                        what: "Redis",
                        setting: "REDIS_URI",
                        reason: e.to_string(),
                    })?,
            ),
            None => None,
        };
        let mongo =
            match &config.mongo_uri {
                Some(uri) => Some(connect_mongo(uri, config.connect_timeout).await.map_err(|reason| {
                    StartupError::Unreachable {
                        what: "MongoDB",
                        setting: "MONGO_URI",
                        reason,
                    }
                })?),
                None => None,
            };
        let embedded_error = |reason: String| StartupError::Embedded {
            dir: config.data_dir.display().to_string(),
            reason,
        };
        let mongo_error = |reason: String| StartupError::Unreachable {
            what: "MongoDB",
            setting: "MONGO_URI",
            reason,
        };
        let needs_embedded_reads = mongo.is_none();
        let embedded_reads: Option<Arc<dyn ReadStore>> = if needs_embedded_reads {
            Some(Arc::new(
                SqliteReadStore::open(&config.data_dir).map_err(|e| embedded_error(e.to_string()))?,
            ))
        } else {
            None
        };
        let tokens: Arc<dyn TokenStore> = match &redis {
            Some(redis) => Arc::new(RedisTokens::new(redis.connection())),
            None => Arc::new(MemoryTokens::default()),
        };
        let idents: Arc<dyn IdentStore> = match &mongo {
            Some((_, db)) => Arc::new(MongoIdents::new(db).await.map_err(|e| mongo_error(e.to_string()))?),
            None => Arc::new(SqliteIdents::open(&config.data_dir).map_err(|e| embedded_error(e.to_string()))?),
        };
        let (events, mongo_reads) = match mongo {
            Some((client, db)) => {
                let events = MongoEventStore::with_database(client.clone(), db.clone())
                    .await
                    .map_err(|e| mongo_error(e.to_string()))?;
                let reads: Arc<dyn ReadStore> = Arc::new(
                    MongoReadStore::new(client, db)
                        .await
                        .map_err(|e| mongo_error(e.to_string()))?,
                );
                (EventRepository::mongo(events), Some(reads))
            }
            None => {
                let store = SqliteEventStore::open(&config.data_dir, config.embedded_sync)
                    .map_err(|e| embedded_error(e.to_string()))?;
                (EventRepository::embedded(store), None)
            }
        };
        let events = events.with_upcasters(upcasters::all()).with_metrics(metrics.clone());
        let documents = mongo_reads
            .clone()
            .or_else(|| embedded_reads.clone())
            .expect("one document store");
        let hot: Arc<dyn ReadStore> = match redis {
            Some(redis) => Arc::new(redis),
            None => documents.clone(),
        };
        let projector_config = ProjectorConfig {
            batch_size: config.projection_batch_size,
            poll_interval: config.projection_poll,
            lease_ttl: config.projection_lease_ttl,
            retry_backoff: std::time::Duration::from_secs(1),
            retire_delay: std::time::Duration::from_secs(1),
            owner: config.instance_id.clone(),
        };
        let projectors = registered_projections()
            .into_iter()
            .map(|(projection, role)| {
                let store = match role {
                    StoreRole::Hot => hot.clone(),
                    StoreRole::Documents => documents.clone(),
                };
                Arc::new(Projector::new(
                    projection,
                    store,
                    Arc::new(events.clone()),
                    projector_config.clone(),
                ))
            })
            .collect::<Vec<Arc<Projector>>>();
        for projector in &projectors {
            projector.declare().await.map_err(|e| StartupError::ReadModel {
                projection: projector.name(),
                reason: e.to_string(),
            })?;
        }
        let kippenstummel = Arc::new(Kippenstummel::new(
            &config,
            &events,
            &metrics,
            idents,
            tokens,
            hot.clone(),
            documents.clone(),
        ));
        let devmarkt = Arc::new(Devmarkt::new(
            &config,
            &events,
            &metrics,
            documents.clone(),
            &projectors,
        ));
        Ok(Self {
            config,
            metrics,
            events,
            hot,
            documents,
            projectors,
            kippenstummel,
            devmarkt,
        })
    }

    pub fn projector(&self, name: &str) -> Option<&Arc<Projector>> {
        self.projectors.iter().find(|p| p.name() == name)
    }

    /// Starts one task per projection; they stop after their current batch
    /// once `shutdown` turns true.
    pub fn spawn_projectors(&self, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        self.projectors
            .iter()
            .map(|p| tokio::spawn(p.clone().run(self.events.appended(), shutdown.clone())))
            .collect()
    }

    pub fn statuses(&self) -> Vec<ProjectionStatus> {
        self.projectors.iter().map(|p| p.status().borrow().clone()).collect()
    }

    /// The distinct read-model stores in use, by kind.
    pub fn read_stores(&self) -> Vec<Arc<dyn ReadStore>> {
        let mut stores = vec![self.documents.clone()];
        if !Arc::ptr_eq(&self.hot, &self.documents) {
            stores.push(self.hot.clone());
        }
        stores
    }
}
