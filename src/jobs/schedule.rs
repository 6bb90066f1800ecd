//! Scheduled jobs (spec 13.2) and the history upkeep jobs of the
//! `job-management` queue.
//!
//! Schedules are cron expressions (the `cron` crate, with a seconds field)
//! evaluated in **UTC**, not in the server's local time as the original's
//! were: every instance of a cluster, whatever its time zone, then agrees on
//! the ticks, and each tick is one run id for the whole cluster. Like the
//! original, every start also runs each scheduled job once right away.

use super::history::{field, SELECTION_LIMIT};
use super::{JobHandler, Jobs, RunContext};
use crate::http::error::ApiError;
use async_trait::async_trait;
use chrono::{Duration as Days, Utc};
use projections::rsql::{FieldTest, Scalar};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub const JOB_MANAGEMENT: &str = "job-management";
pub const CLEANUP: &str = "cleanup";
pub const CHECK_ORPHANED: &str = "check-orphaned";
/// 00:00 UTC on the 1st and 15th (`0 0 1,15 * *`).
pub const HISTORY_CLEANUP_SCHEDULE: &str = "0 0 0 1,15 * *";
/// Every 30 minutes (`*/30 * * * *`).
pub const ORPHAN_CHECK_SCHEDULE: &str = "0 */30 * * * *";
/// Finished runs older than this are removed from the history.
pub const HISTORY_RETENTION_DAYS: i64 = 14;

/// One job on a schedule.
pub struct Scheduled {
    pub queue: &'static str,
    pub name: &'static str,
    pub schedule: cron::Schedule,
    /// How long after start-up the immediate run waits.
    pub first_run_after: Duration,
}

/// Runs `job` once after `first_run_after`, then at every tick of its
/// schedule, until `shutdown`.
pub async fn run(jobs: Arc<Jobs>, job: Scheduled, mut shutdown: watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(job.first_run_after) => {}
        _ = shutdown.changed() => return,
    }
    let start_id = format!("start:{}:{}", jobs.instance(), Utc::now().timestamp_millis());
    run_logged(&jobs, &job, &start_id).await;
    loop {
        let Some(next) = job.schedule.upcoming(Utc).next() else {
            return;
        };
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        // The tick's id is the same on every instance: one run per tick.
        run_logged(&jobs, &job, &format!("repeat:{}:{}", job.name, next.timestamp_millis())).await;
    }
}

async fn run_logged(jobs: &Arc<Jobs>, job: &Scheduled, job_id: &str) {
    match jobs.run_once(job.queue, job.name, job_id).await {
        Ok(true) => {}
        Ok(false) => tracing::debug!(queue = job.queue, job = job.name, "another instance runs this tick"),
        Err(e) => {
            tracing::error!(code = %e.body().code, queue = job.queue, job = job.name, "scheduled job not started")
        }
    }
}

/// `job-management` / `cleanup`: removes runs that finished more than
/// [`HISTORY_RETENTION_DAYS`] ago.
pub struct HistoryCleanup;

#[async_trait]
impl JobHandler for HistoryCleanup {
    async fn run(&self, run: &RunContext, _data: &Value) -> Result<Option<Value>, String> {
        let cutoff = (Utc::now() - Days::days(HISTORY_RETENTION_DAYS)).timestamp_millis() as f64;
        let due = field("finishedOn", FieldTest::Lt(Scalar::Number(cutoff)));
        let jobs = run.jobs();
        let mut removed = 0u64;
        loop {
            let batch = jobs.select(&due).await.map_err(message)?;
            let last = batch.len() < SELECTION_LIMIT;
            for doc in batch {
                jobs.delete(&super::run_key(&doc.queue, &doc.job_id))
                    .await
                    .map_err(message)?;
                removed += 1;
            }
            if last {
                break;
            }
            // The next selection must not see the removed runs again.
            jobs.caught_up().await.map_err(message)?;
        }
        run.log(format!("Cleanup finished: {removed} job runs removed")).await;
        Ok(Some(json!({ "removed": removed })))
    }
}

/// `job-management` / `check-orphaned`.
pub struct OrphanCheck;

#[async_trait]
impl JobHandler for OrphanCheck {
    async fn run(&self, run: &RunContext, _data: &Value) -> Result<Option<Value>, String> {
        let orphaned = run.jobs().check_orphaned().await.map_err(message)?;
        run.log(format!("{orphaned} orphaned job runs found")).await;
        Ok(Some(json!({ "orphaned": orphaned })))
    }
}

/// A job's failure reason from an API error (its cause is in the service log).
pub fn message(e: ApiError) -> String {
    format!("{}: {}", e.body().code, e.body().message)
}
