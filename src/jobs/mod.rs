//! Background jobs with a history (spec 13): imports, the weekly machine
//! cleanup, the job-history cleanup and the orphan check.
//!
//! Why not a queue crate (apalis, a BullMQ port): the history the console
//! reads, the "at most one runner" rule and crash recovery all need to be
//! in the store every instance shares, and stummel's event store already is
//! that store on both backends (embedded and MongoDB), with optimistic
//! concurrency per aggregate. A run is a `job-run` aggregate
//! (`aggregates::kippenstummel::job_run`); the `job-runs` projection is the
//! history. What a queue would add on top, a work list, is not needed: a
//! job is run by the instance that accepts it, right away.
//!
//! - **Exactly one runner**: a runner holds the lease `job:<queue>:<jobId>`
//!   (in the hot store: Redis, or the embedded store) for as long as it
//!   works, renewing it every third of `JOB_LEASE_TTL_MS`; a scheduled tick
//!   is one run id for the whole cluster (`repeat:<name>:<tick>`), and the
//!   aggregate refuses a second start of the same id.
//! - **Orphans**: `check-orphaned` marks every running run whose lease
//!   nobody holds (its instance died) as `orphaned`; the aggregate makes
//!   that happen once even when several instances check. Resumable jobs
//!   (imports) then run again on the checking instance, from the progress
//!   their last runner recorded.
//! - **Schedules** ([`schedule`]): cron expressions in UTC.

pub mod history;
pub mod schedule;

use crate::event_store::{CommandBus, CommandError, CommandMetadata, EventRepository};
use crate::http::error::ApiError;
use crate::metrics::Metrics;
use aggregates::kippenstummel::job_run::{JobRun, JobRunCommand, JobRunError};
use async_trait::async_trait;
use chrono::Utc;
use projections::kippenstummel::job_runs::JobRunDocument;
use projections::ReadStore;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Longest log line kept; longer ones are cut (an error message can quote input).
const MAX_LOG_LINE: usize = 2_000;

/// What a job does. Implemented next to the code it drives (imports in
/// `kippenstummel::jobs`, history upkeep here).
#[async_trait]
pub trait JobHandler: Send + Sync {
    /// Runs the job on `data`; `Ok` carries the run's `result`.
    async fn run(&self, run: &RunContext, data: &Value) -> Result<Option<Value>, String>;

    /// Whether an orphaned run is run again (from [`RunContext::done`]).
    fn resumable(&self) -> bool {
        false
    }
}

/// A running run, as its handler sees it.
pub struct RunContext {
    jobs: Arc<Jobs>,
    pub key: String,
    pub queue: String,
    pub name: String,
    pub job_id: String,
    done: AtomicU64,
    lost: Arc<AtomicBool>,
}

impl RunContext {
    /// Appends a line to the run's log (a failure to record it is logged, not fatal).
    pub async fn log(&self, line: impl Into<String>) {
        let mut line = line.into();
        if line.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
        }
        tracing::info!(queue = %self.queue, job = %self.job_id, "{line}");
        if let Err(error) = self.jobs.command(&self.key, JobRunCommand::Log { line }).await {
            tracing::warn!(code = %error.body().code, run = %self.key, "could not record a job log line");
        }
    }

    /// Units of work done before this attempt started (0 on a first run).
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::SeqCst)
    }

    /// Records that `done` units of work are finished: a resumed run starts there.
    pub async fn progress(&self, done: u64) -> Result<(), String> {
        self.jobs
            .command(&self.key, JobRunCommand::Progress { done })
            .await
            .map_err(|e| e.body().message.clone())?;
        self.done.store(done, Ordering::SeqCst);
        Ok(())
    }

    /// The job system, for jobs about jobs (`job-management`).
    pub fn jobs(&self) -> &Arc<Jobs> {
        &self.jobs
    }

    /// True once another instance took the run over (this runner's lease
    /// was lost): the handler stops at its next unit of work.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }
}

pub struct Jobs {
    commands: CommandBus<JobRun>,
    events: EventRepository,
    /// The `job-runs` history.
    documents: Arc<dyn ReadStore>,
    /// Runner leases.
    leases: Arc<dyn ReadStore>,
    instance: String,
    lease_ttl: Duration,
    handlers: RwLock<HashMap<(String, String), Arc<dyn JobHandler>>>,
    /// Runs this process is running now (their leases are ours).
    running: Mutex<HashSet<String>>,
}

pub fn run_key(queue: &str, job_id: &str) -> String {
    format!("{queue}:{job_id}")
}

fn lease_name(key: &str) -> String {
    format!("job:{key}")
}

fn run_error(e: CommandError<JobRunError>) -> ApiError {
    match e {
        CommandError::Rejected(e) => ApiError::internal(e),
        CommandError::Conflict { attempts } => {
            ApiError::unavailable(format!("job run kept changing ({attempts} attempts)"))
        }
        CommandError::Store(e) => ApiError::unavailable(e),
    }
}

impl Jobs {
    pub fn new(
        events: &EventRepository,
        metrics: &Metrics,
        documents: Arc<dyn ReadStore>,
        leases: Arc<dyn ReadStore>,
        instance: String,
        lease_ttl: Duration,
    ) -> Self {
        Self {
            // Log lines and progress of one run never race each other, but a
            // resume may race a late log line of the runner it replaces.
            commands: CommandBus::new(events.clone(), 50, 10, (), metrics.clone()),
            events: events.clone(),
            documents,
            leases,
            instance,
            lease_ttl,
            handlers: RwLock::new(HashMap::new()),
            running: Mutex::new(HashSet::new()),
        }
    }

    pub fn register(&self, queue: &str, name: &str, handler: Arc<dyn JobHandler>) {
        self.handlers
            .write()
            .expect("handlers lock")
            .insert((queue.to_owned(), name.to_owned()), handler);
    }

    fn handler(&self, queue: &str, name: &str) -> Option<Arc<dyn JobHandler>> {
        self.handlers
            .read()
            .expect("handlers lock")
            .get(&(queue.to_owned(), name.to_owned()))
            .cloned()
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    async fn command(&self, key: &str, command: JobRunCommand) -> Result<(), ApiError> {
        let metadata = CommandMetadata::new(format!("job:{key}"), None, Utc::now());
        self.commands.execute(key, command, &metadata).await.map_err(run_error)
    }

    /// Removes a finished run from the history.
    pub async fn delete(&self, key: &str) -> Result<(), ApiError> {
        let metadata = CommandMetadata::new(format!("job:{key}"), None, Utc::now());
        match self.commands.execute(key, JobRunCommand::Delete, &metadata).await {
            Ok(()) | Err(CommandError::Rejected(_)) => Ok(()),
            Err(e) => Err(run_error(e)),
        }
    }

    /// Records a new run of `queue`/`name` and starts it in the background;
    /// returns its job id once the run is in the history as `running`.
    pub async fn submit(self: &Arc<Self>, queue: &str, name: &str, data: Value) -> Result<String, ApiError> {
        let job_id = uuid::Uuid::new_v4().simple().to_string();
        let Some(run) = self.start(queue, name, &job_id, data.clone()).await? else {
            return Err(ApiError::internal(format!("job id {job_id} taken")));
        };
        let jobs = self.clone();
        tokio::spawn(async move { jobs.execute(run, data).await });
        Ok(job_id)
    }

    /// Takes the run's lease and records its start; `None` when another
    /// runner has it (or had it: the id was started before).
    async fn start(
        self: &Arc<Self>,
        queue: &str,
        name: &str,
        job_id: &str,
        data: Value,
    ) -> Result<Option<RunContext>, ApiError> {
        let key = run_key(queue, job_id);
        if !self.take_lease(&key).await? {
            return Ok(None);
        }
        let start = JobRunCommand::Start {
            queue: queue.to_owned(),
            name: name.to_owned(),
            data,
            timestamp: Utc::now().timestamp_millis(),
            instance: self.instance.clone(),
        };
        let metadata = CommandMetadata::new(format!("job:{key}"), None, Utc::now());
        match self.commands.execute(&key, start, &metadata).await {
            Ok(()) => Ok(Some(self.context(key, queue, name, job_id, 0))),
            Err(CommandError::Rejected(JobRunError::AlreadyStarted)) => {
                self.give_back(&key).await;
                Ok(None)
            }
            Err(e) => {
                self.give_back(&key).await;
                Err(run_error(e))
            }
        }
    }

    fn context(self: &Arc<Self>, key: String, queue: &str, name: &str, job_id: &str, done: u64) -> RunContext {
        RunContext {
            jobs: self.clone(),
            key,
            queue: queue.to_owned(),
            name: name.to_owned(),
            job_id: job_id.to_owned(),
            done: AtomicU64::new(done),
            lost: Arc::new(AtomicBool::new(false)),
        }
    }

    async fn take_lease(&self, key: &str) -> Result<bool, ApiError> {
        let taken = self
            .leases
            .try_lease(&lease_name(key), &self.instance, self.lease_ttl)
            .await
            .map_err(ApiError::unavailable)?;
        if taken {
            self.running.lock().expect("running lock").insert(key.to_owned());
        }
        Ok(taken)
    }

    async fn give_back(&self, key: &str) {
        self.running.lock().expect("running lock").remove(key);
        if let Err(error) = self.leases.release_lease(&lease_name(key), &self.instance).await {
            tracing::warn!(%error, run = %key, "could not release a job lease (it expires)");
        }
    }

    /// Runs the handler under the run's lease, then records how it ended.
    async fn execute(self: Arc<Self>, run: RunContext, data: Value) {
        let heartbeat = tokio::spawn(heartbeat(
            self.leases.clone(),
            lease_name(&run.key),
            self.instance.clone(),
            self.lease_ttl,
            run.lost.clone(),
        ));
        let outcome = match self.handler(&run.queue, &run.name) {
            Some(handler) => handler.run(&run, &data).await,
            // Unknown job names complete without doing anything (spec 13.1).
            None => Ok(None),
        };
        heartbeat.abort();
        let end = match outcome {
            Ok(result) => JobRunCommand::Complete { result },
            Err(reason) => {
                run.log(format!("Error: {reason}")).await;
                JobRunCommand::Fail { reason }
            }
        };
        if run.lost() {
            tracing::warn!(run = %run.key, "job run lost its lease; another instance took it over");
        } else if let Err(error) = self.command(&run.key, end).await {
            // The lease expires and check-orphaned marks the run.
            tracing::error!(code = %error.body().code, run = %run.key, "could not record the end of a job run");
        }
        self.give_back(&run.key).await;
    }

    /// Runs `queue`/`name` now under the id `job_id` unless another
    /// instance runs or ran that id, and waits for it to end.
    pub async fn run_once(self: &Arc<Self>, queue: &str, name: &str, job_id: &str) -> Result<bool, ApiError> {
        let Some(run) = self.start(queue, name, job_id, Value::Null).await? else {
            return Ok(false);
        };
        self.clone().execute(run, Value::Null).await;
        Ok(true)
    }

    /// `check-orphaned`: marks running runs whose runner is gone as
    /// orphaned and resumes the resumable ones here. Returns how many
    /// runs were orphaned.
    pub async fn check_orphaned(self: &Arc<Self>) -> Result<usize, ApiError> {
        let mut orphaned = 0;
        for doc in self.running_runs().await? {
            let key = run_key(&doc.queue, &doc.job_id);
            if self.running.lock().expect("running lock").contains(&key) {
                continue;
            }
            if !self.take_lease(&key).await? {
                continue; // its runner is alive
            }
            match self.mark_orphaned(&key).await {
                Ok(true) => orphaned += 1,
                Ok(false) => {
                    self.give_back(&key).await;
                    continue;
                }
                Err(e) => {
                    self.give_back(&key).await;
                    return Err(e);
                }
            }
            match self.handler(&doc.queue, &doc.name) {
                Some(handler) if handler.resumable() => self.resume(doc, key).await?,
                _ => self.give_back(&key).await,
            }
        }
        Ok(orphaned)
    }

    /// True when this call marked the run orphaned (false: it had ended meanwhile).
    async fn mark_orphaned(&self, key: &str) -> Result<bool, ApiError> {
        let metadata = CommandMetadata::new(format!("job:{key}"), None, Utc::now());
        match self.commands.execute(key, JobRunCommand::MarkOrphaned, &metadata).await {
            Ok(()) => {
                tracing::warn!(run = %key, "job run orphaned: its instance stopped before it finished");
                Ok(true)
            }
            Err(CommandError::Rejected(_)) => Ok(false),
            Err(e) => Err(run_error(e)),
        }
    }

    async fn resume(self: &Arc<Self>, doc: JobRunDocument, key: String) -> Result<(), ApiError> {
        let resume = JobRunCommand::Resume {
            instance: self.instance.clone(),
        };
        if let Err(e) = self.command(&key, resume).await {
            self.give_back(&key).await;
            return Err(e);
        }
        let run = self.context(key, &doc.queue, &doc.name, &doc.job_id, doc.done);
        run.log(format!(
            "Resumed by {} after its runner ({}) stopped, at {} units done",
            self.instance, doc.instance, doc.done
        ))
        .await;
        let jobs = self.clone();
        tokio::spawn(async move { jobs.execute(run, doc.data).await });
        Ok(())
    }
}

/// Renews the run's lease every third of its TTL until aborted; sets
/// `lost` when another owner holds it (the run was taken over).
async fn heartbeat(leases: Arc<dyn ReadStore>, name: String, owner: String, ttl: Duration, lost: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(ttl / 3);
    tick.tick().await;
    loop {
        tick.tick().await;
        match leases.try_lease(&name, &owner, ttl).await {
            Ok(true) => {}
            Ok(false) => {
                lost.store(true, Ordering::SeqCst);
                return;
            }
            // A store outage: keep trying; the lease may still be ours.
            Err(error) => tracing::warn!(%error, lease = %name, "could not renew a job lease"),
        }
    }
}
