//! Kippenstummel's jobs (spec 13.1): the three imports of queue
//! `cvm-import` and the weekly machine cleanup of queue `cvm-management`.
//!
//! An import's data is what it imports (`{cvms: [...]}`; OSM: `{region}`).
//! It runs in batches of [`IMPORT_BATCH`] and records after each batch
//! how many are done, so a run orphaned by a crash resumes at the first
//! unfinished batch. The batch the crash interrupted runs again: its
//! machines that were already appended are then within 50 m of an entry
//! and are synchronised, not created twice (the 50 m rule is decided
//! against the caught-up cells index), so a resumed import ends with the
//! same machines as an uninterrupted one.

use super::machines::IMPORT_BATCH;
use super::Kippenstummel;
use crate::jobs::schedule::message;
use crate::jobs::{JobHandler, RunContext};
use aggregates::kippenstummel::geo::Position;
use async_trait::async_trait;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;

pub const CVM_IMPORT: &str = "cvm-import";
pub const MANUAL: &str = "manual";
pub const FILE: &str = "file";
pub const OSM: &str = "osm";
pub const CVM_MANAGEMENT: &str = "cvm-management";
pub const CLEANUP: &str = "cleanup";

/// One import entry as the job's data keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ImportEntry {
    pub longitude: f64,
    pub latitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<i32>,
}

impl ImportEntry {
    pub fn new((position, score): (Position, Option<i32>)) -> Self {
        Self {
            longitude: position.longitude,
            latitude: position.latitude,
            score,
        }
    }

    fn parts(self) -> (Position, Option<i32>) {
        (Position::new(self.longitude, self.latitude), self.score)
    }
}

/// The data of a `manual` or `file` import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntriesData {
    pub cvms: Vec<ImportEntry>,
}

/// The data of an `osm` import: the region as the request gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OsmData {
    pub region: String,
}

/// Where an import's entries come from, and how its log names them.
#[derive(Debug, Clone, Copy)]
pub enum ImportSource {
    Manual,
    File,
    Osm,
}

impl ImportSource {
    pub fn job_name(self) -> &'static str {
        match self {
            ImportSource::Manual => MANUAL,
            ImportSource::File => FILE,
            ImportSource::Osm => OSM,
        }
    }

    /// As the original's log lines say it (`Imported N CVMs from …`).
    fn described(self) -> &'static str {
        match self {
            ImportSource::Manual => "manual records",
            ImportSource::File => "file",
            ImportSource::Osm => "OSM",
        }
    }
}

pub struct ImportJob {
    pub service: Arc<Kippenstummel>,
    pub source: ImportSource,
}

impl ImportJob {
    async fn entries(&self, run: &RunContext, data: &Value) -> Result<Vec<(Position, Option<i32>)>, String> {
        match self.source {
            ImportSource::Manual | ImportSource::File => {
                let data: EntriesData =
                    serde_json::from_value(data.clone()).map_err(|e| format!("invalid job data: {e}"))?;
                Ok(data.cvms.into_iter().map(ImportEntry::parts).collect())
            }
            ImportSource::Osm => {
                let data: OsmData =
                    serde_json::from_value(data.clone()).map_err(|e| format!("invalid job data: {e}"))?;
                run.log(format!("Fetching the machines of {:?} from OpenStreetMap", data.region))
                    .await;
                let found = self
                    .service
                    .osm
                    .machines_in(&data.region)
                    .await
                    .map_err(|e| format!("{}: {e}", data.region))?;
                Ok(found.into_iter().map(|p| (p, None)).collect())
            }
        }
    }
}

#[async_trait]
impl JobHandler for ImportJob {
    async fn run(&self, run: &RunContext, data: &Value) -> Result<Option<Value>, String> {
        let entries = self.entries(run, data).await?;
        let batches: Vec<&[(Position, Option<i32>)]> = entries.chunks(IMPORT_BATCH).collect();
        // OpenStreetMap may answer differently the second time: a resumed
        // OSM import starts over (the 50 m rule keeps that duplicate-free).
        let first = match self.source {
            ImportSource::Osm => 0,
            _ => usize::try_from(run.done()).unwrap_or(usize::MAX).min(batches.len()),
        };
        run.log(format!(
            "Importing {} CVMs in {} batches{}",
            entries.len(),
            batches.len(),
            if first > 0 {
                format!(", from batch {}", first + 1)
            } else {
                String::new()
            }
        ))
        .await;
        let mut applied = 0;
        for (i, batch) in batches.iter().enumerate().skip(first) {
            if run.lost() {
                return Err("another instance took the run over".to_owned());
            }
            applied += self.import_batch(run, i, batch).await?;
            run.progress(i as u64 + 1).await?;
        }
        run.log(format!("Imported {applied} CVMs from {}", self.source.described()))
            .await;
        Ok(Some(json!({ "imported": applied })))
    }

    fn resumable(&self) -> bool {
        true
    }
}

/// Tries of one import batch that meets an unavailable store or a lagging
/// projection (503): after a restart, say, the projectors wait out the dead
/// instance's leases (`PROJECTION_LEASE_TTL_MS`) before the cells index
/// the 50 m rule needs catches up. Waits 1, 2, 4, 8, 16, 32 s in between.
const BATCH_ATTEMPTS: u32 = 7;

impl ImportJob {
    async fn import_batch(
        &self,
        run: &RunContext,
        i: usize,
        batch: &[(Position, Option<i32>)],
    ) -> Result<usize, String> {
        let mut attempt = 1;
        loop {
            match self.service.import_batch(batch).await {
                Ok(applied) => return Ok(applied),
                Err(e) if e.body().code == crate::http::error::UNAVAILABLE.code && attempt < BATCH_ATTEMPTS => {
                    let wait = std::time::Duration::from_secs(1 << (attempt - 1));
                    run.log(format!("Batch {}: {}; trying again in {wait:?}", i + 1, message(e)))
                        .await;
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(message(e)),
            }
        }
    }
}

/// `cvm-management` / `cleanup` (spec 9.4.8).
pub struct MachineCleanup {
    pub service: Arc<Kippenstummel>,
}

#[async_trait]
impl JobHandler for MachineCleanup {
    async fn run(&self, run: &RunContext, _data: &Value) -> Result<Option<Value>, String> {
        let removed = self.service.cleanup(Utc::now()).await.map_err(message)?;
        run.log(format!("Cleanup finished: {removed} machines removed")).await;
        Ok(Some(json!({ "removed": removed })))
    }
}

/// Registers every Kippenstummel job with `jobs`.
pub fn register(jobs: &crate::jobs::Jobs, service: &Arc<Kippenstummel>) {
    for source in [ImportSource::Manual, ImportSource::File, ImportSource::Osm] {
        let job = ImportJob {
            service: service.clone(),
            source,
        };
        jobs.register(CVM_IMPORT, source.job_name(), Arc::new(job));
    }
    let cleanup = MachineCleanup {
        service: service.clone(),
    };
    jobs.register(CVM_MANAGEMENT, CLEANUP, Arc::new(cleanup));
}
