//! Wiring: from a [`Config`] to connected stores, the event repository and
//! the projectors. Shared by `serve`, `replay`, `projections` and `loadgen`.

use crate::config::Config;
use crate::devmarkt::Devmarkt;
use crate::event_store::{EventRepository, MongoEventStore, SqliteEventStore};
use crate::jobs::schedule::{self, CHECK_ORPHANED, JOB_MANAGEMENT};
use crate::jobs::Jobs;
use crate::kippenstummel::idents::{IdentStore, MongoIdents, SqliteIdents};
use crate::kippenstummel::tokens::{MemoryTokens, RedisTokens, TokenStore};
use crate::kippenstummel::Kippenstummel;
use crate::metrics::Metrics;
use crate::mongo::{ConnectError, Mongo, MongoSettings};
use crate::read_store::{MongoReadStore, RedisReadStore, SqliteReadStore};
use crate::upcasters;
use projections::{Projection, ProjectionStatus, Projector, ProjectorConfig, ReadStore};
use std::str::FromStr;
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
    use projections::kippenstummel::{
        credibility::Credibility, cvms::Cvms, job_runs::JobRuns, karma::Karma, tiles::Tiles, usage::UsageLocations,
    };
    let mut all: Vec<(Arc<dyn Projection>, StoreRole)> = vec![
        (Arc::new(projections::stats::EventStats), StoreRole::Documents),
        (Arc::new(Karma), StoreRole::Hot),
        (Arc::new(Credibility), StoreRole::Hot),
        (Arc::new(Cvms), StoreRole::Documents),
        (Arc::new(Tiles), StoreRole::Hot),
        (Arc::new(JobRuns), StoreRole::Documents),
        (Arc::new(UsageLocations), StoreRole::Documents),
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
    /// The server answers but cannot run stummel (e.g. a standalone MongoDB).
    #[error("{0}")]
    Unsuitable(String),
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
    pub jobs: Arc<Jobs>,
}

/// The MongoDB settings of `config` (when MONGO_URI is set).
pub fn mongo_settings(config: &Config) -> Option<MongoSettings> {
    let uri = config.mongo_uri.as_ref()?;
    Some(MongoSettings {
        uri: uri.clone(),
        collection_prefix: config.mongo_collection_prefix.clone(),
        server_selection_timeout: config.mongo_server_selection_timeout,
        operation_timeout: config.mongo_operation_timeout,
        connect_timeout: config.connect_timeout,
    })
}

impl Engine {
    /// Connects to every configured server *before* creating anything, so a
    /// bad URI or an unreachable server stops start-up with nothing written.
    pub async fn start(config: Config) -> Result<Self, StartupError> {
        let metrics = Metrics::new();
        let redis = match &config.redis_uri {
            Some(uri) => Some(
                RedisReadStore::connect_with(
                    uri,
                    &config.redis_key_prefix,
                    config.connect_timeout,
                    config.redis_timeout,
                )
                .await
                .map_err(|e| StartupError::Unreachable {
                    what: "Redis",
                    setting: "REDIS_URI",
                    reason: e.to_string(),
                })?,
            ),
            None => None,
        };
        let mongo = match mongo_settings(&config) {
            Some(settings) => Some(Mongo::connect(&settings).await.map_err(|e| match e {
                ConnectError::Unreachable(reason) => StartupError::Unreachable {
                    what: "MongoDB",
                    setting: "MONGO_URI",
                    reason,
                },
                ConnectError::Unsuitable(reason) => StartupError::Unsuitable(reason),
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
            Some(mongo) => Arc::new(MongoIdents::open(mongo).await.map_err(|e| mongo_error(e.to_string()))?),
            None => Arc::new(SqliteIdents::open(&config.data_dir).map_err(|e| embedded_error(e.to_string()))?),
        };
        let (events, mongo_reads) = match mongo {
            Some(mongo) => {
                let events = MongoEventStore::open(&mongo)
                    .await
                    .map_err(|e| mongo_error(e.to_string()))?;
                let reads: Arc<dyn ReadStore> = Arc::new(
                    MongoReadStore::open(&mongo)
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
        let jobs = Arc::new(Jobs::new(
            &events,
            &metrics,
            documents.clone(),
            hot.clone(),
            config.instance_id.clone(),
            config.job_lease_ttl,
        ));
        crate::kippenstummel::jobs::register(&jobs, &kippenstummel);
        jobs.register(JOB_MANAGEMENT, schedule::CLEANUP, Arc::new(schedule::HistoryCleanup));
        jobs.register(JOB_MANAGEMENT, CHECK_ORPHANED, Arc::new(schedule::OrphanCheck));
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
            jobs,
        })
    }

    /// Why this setup must run as one instance only, when it must: with
    /// MongoDB several instances could share the data, but without Redis the
    /// captcha and transfer tokens and the rate limits live in each process's
    /// memory, so an instance would not see another's tokens or counts.
    pub fn single_instance_reason(&self) -> Option<&'static str> {
        (self.config.mongo_uri.is_some() && self.config.redis_uri.is_none()).then_some(
            "MONGO_URI is set but REDIS_URI is not: this setup is single-instance only \
             (captcha and transfer tokens and rate limits are kept in this process's memory); \
             set REDIS_URI before starting a second instance on the same database",
        )
    }

    /// Starts the scheduled jobs (spec 13.2); they stop once `shutdown` turns true.
    pub fn spawn_schedules(&self, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let parse = |expression: &str| cron::Schedule::from_str(expression).expect("built-in schedules parse");
        // The orphan check at start waits out the leases of runners that
        // died with the previous process, so it finds their runs.
        let orphan_check_delay = self.config.job_lease_ttl + std::time::Duration::from_secs(1);
        let soon = std::time::Duration::from_secs(1);
        let jobs = [
            schedule::Scheduled {
                queue: JOB_MANAGEMENT,
                name: schedule::CLEANUP,
                schedule: parse(schedule::HISTORY_CLEANUP_SCHEDULE),
                first_run_after: soon,
            },
            schedule::Scheduled {
                queue: JOB_MANAGEMENT,
                name: CHECK_ORPHANED,
                schedule: parse(schedule::ORPHAN_CHECK_SCHEDULE),
                first_run_after: orphan_check_delay,
            },
            schedule::Scheduled {
                queue: crate::kippenstummel::jobs::CVM_MANAGEMENT,
                name: crate::kippenstummel::jobs::CLEANUP,
                schedule: self.config.cleanup_schedule.clone(),
                first_run_after: soon,
            },
        ];
        jobs.into_iter()
            .map(|job| tokio::spawn(schedule::run(self.jobs.clone(), job, shutdown.clone())))
            .collect()
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
