//! KMC statistics (spec 5.4), read from counters the projections keep
//! beside their read models (`projections::kippenstummel::counters`): a
//! request reads one totals document and, in one multi-get, at most one
//! document per day of the requested window (≤ 366), whatever the number
//! of machines.
//!
//! Histories have exactly `lastNDays` entries, one per UTC day from
//! `today − lastNDays + 1` to today, oldest first, zero-filled.

use super::Kippenstummel;
use crate::http::error::ApiError;
use crate::jobs::history::{and, field, text};
use crate::jobs::Jobs;
use aggregates::kippenstummel::job_run::JobStatus;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use projections::kippenstummel::counters::{ALL, DAYS, TOTALS};
use projections::kippenstummel::{credibility, cvms, job_runs};
use projections::rsql::{BoundingBox, FieldTest, Predicate, Scalar};
use projections::{DocQuery, Namespace, ReadStore};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Largest `lastNDays` (spec 5.4).
pub const MAX_DAYS: u32 = 365;

#[derive(Debug, Clone, PartialEq)]
pub struct DayCount {
    pub date: String,
    pub count: u64,
}

/// A counter over the window: its per-day history and their sum.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub total_last_n_days: u64,
    pub history: Vec<DayCount>,
}

/// `total` plus the window of one counter.
#[derive(Debug, Clone, PartialEq)]
pub struct Counted {
    pub total: u64,
    pub window: Window,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CvmStats {
    pub total: u64,
    pub average_score: f64,
    pub imports: Counted,
    pub registrations: Counted,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VoteStats {
    pub total: u64,
    pub upvotes: Counted,
    pub downvotes: Counted,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IdentStats {
    pub total: u64,
    pub average_credibility: f64,
    pub new: Window,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobStats {
    pub total: u64,
    pub different_types: u64,
    /// Only statuses that occur, in the order running, completed, failed, orphaned.
    pub status_counts: Vec<(JobStatus, u64)>,
    pub runs: Window,
}

/// The days of the window, oldest first.
pub fn window_days(today: NaiveDate, last_n_days: u32) -> Vec<NaiveDate> {
    (0..i64::from(last_n_days))
        .rev()
        .map(|back| today - Duration::days(back))
        .collect()
}

/// A stored counters document (absent: no counters).
async fn counters_doc(
    store: &Arc<dyn ReadStore>,
    ns: &Namespace,
    collection: &str,
    key: &str,
) -> Result<Map<String, Value>, ApiError> {
    match store
        .get_doc(ns, collection, key)
        .await
        .map_err(ApiError::unavailable)?
    {
        Some(Value::Object(doc)) => Ok(doc),
        _ => Ok(Map::new()),
    }
}

fn count(doc: &Map<String, Value>, counter: &str) -> u64 {
    doc.get(counter)
        .and_then(Value::as_f64)
        .map_or(0, |n| n.max(0.0) as u64)
}

/// The day documents of the window (one multi-get) and the totals.
struct Counters {
    totals: Map<String, Value>,
    days: Vec<(NaiveDate, Map<String, Value>)>,
}

impl Counters {
    async fn read(
        store: &Arc<dyn ReadStore>,
        ns: Option<Namespace>,
        today: NaiveDate,
        last_n_days: u32,
    ) -> Result<Self, ApiError> {
        let days = window_days(today, last_n_days);
        let Some(ns) = ns else {
            return Ok(Self {
                totals: Map::new(),
                days: days.into_iter().map(|d| (d, Map::new())).collect(),
            });
        };
        // One multi-get for the whole window (≤ 366 keys).
        let keys: Vec<String> = days.iter().map(|d| d.format("%Y-%m-%d").to_string()).collect();
        let docs = store.get_docs(&ns, DAYS, &keys).await.map_err(ApiError::unavailable)?;
        let read = days
            .into_iter()
            .zip(docs)
            .map(|(day, doc)| match doc {
                Some(Value::Object(doc)) => (day, doc),
                _ => (day, Map::new()),
            })
            .collect();
        Ok(Self {
            totals: counters_doc(store, &ns, TOTALS, ALL).await?,
            days: read,
        })
    }

    fn total(&self, counter: &str) -> u64 {
        count(&self.totals, counter)
    }

    fn window(&self, counter: &str) -> Window {
        let history: Vec<DayCount> = self
            .days
            .iter()
            .map(|(day, doc)| DayCount {
                date: day.format("%Y-%m-%d").to_string(),
                count: count(doc, counter),
            })
            .collect();
        Window {
            total_last_n_days: history.iter().map(|d| d.count).sum(),
            history,
        }
    }

    fn counted(&self, counter: &str) -> Counted {
        Counted {
            total: self.total(counter),
            window: self.window(counter),
        }
    }
}

fn mean(sum: f64, n: u64) -> f64 {
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

impl Kippenstummel {
    async fn machine_counters(&self, today: NaiveDate, last_n_days: u32) -> Result<Counters, ApiError> {
        let ns = self.active_in(&self.documents, cvms::NAME).await?;
        Counters::read(&self.documents, ns, today, last_n_days).await
    }

    /// `GET /kmc/stats/cvms`.
    pub async fn cvm_stats(&self, today: NaiveDate, last_n_days: u32) -> Result<CvmStats, ApiError> {
        let c = self.machine_counters(today, last_n_days).await?;
        let total = c.total(cvms::MACHINES);
        let score_sum = c.totals.get(cvms::SCORE_SUM).and_then(Value::as_f64).unwrap_or(0.0);
        Ok(CvmStats {
            total,
            average_score: mean(score_sum, total),
            imports: c.counted(cvms::IMPORTS),
            registrations: c.counted(cvms::REGISTRATIONS_COUNT),
        })
    }

    /// `GET /kmc/stats/votes`.
    pub async fn vote_stats(&self, today: NaiveDate, last_n_days: u32) -> Result<VoteStats, ApiError> {
        let c = self.machine_counters(today, last_n_days).await?;
        Ok(VoteStats {
            total: c.total(cvms::UPVOTES) + c.total(cvms::DOWNVOTES),
            upvotes: c.counted(cvms::UPVOTES),
            downvotes: c.counted(cvms::DOWNVOTES),
        })
    }

    /// `GET /kmc/stats/idents`. `averageCredibility` is the mean rating (the
    /// original averaged an ObjectId and answered `null`: bug 19).
    pub async fn ident_stats(&self, today: NaiveDate, last_n_days: u32) -> Result<IdentStats, ApiError> {
        let ns = self.active(credibility::NAME).await.map_err(ApiError::unavailable)?;
        let c = Counters::read(&self.read_models, ns, today, last_n_days).await?;
        let total = c.total(credibility::IDENTS);
        let rating_sum = c
            .totals
            .get(credibility::RATING_SUM)
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        Ok(IdentStats {
            total,
            average_credibility: mean(rating_sum, total),
            new: c.window(credibility::IDENTS),
        })
    }

    /// `GET /kmc/stats/cvms/density`: machines in the box (and matching
    /// the filter) grouped into cells of `360 / 2^(zoom+3)` degrees, each
    /// with its mean position. The positions come from the store's index;
    /// the work is proportional to the machines in the box (an admin view).
    pub async fn machine_density(
        &self,
        bbox: BoundingBox,
        zoom: f64,
        predicate: Option<&Predicate>,
    ) -> Result<Vec<(f64, f64, u64)>, ApiError> {
        let Some(ns) = self.active_in(&self.documents, cvms::NAME).await? else {
            return Ok(Vec::new());
        };
        let query = DocQuery {
            predicate,
            within: Some(bbox),
            offset: 0,
            limit: usize::MAX,
        };
        let positions = self
            .documents
            .query_positions(&ns, cvms::machines(), &query)
            .await
            .map_err(ApiError::unavailable)?;
        Ok(grid_density(
            positions.into_iter().map(|(_, lng, lat)| (lng, lat, 1)),
            cell_size(zoom),
        ))
    }
}

/// The density grid's cell size in degrees at `zoom` (spec 5.4).
pub fn cell_size(zoom: f64) -> f64 {
    360.0 / 2f64.powf(zoom + 3.0)
}

/// Groups weighted points into square cells of `size` degrees:
/// `(mean longitude, mean latitude, total weight)` per occupied cell,
/// the means weighted.
pub fn grid_density(points: impl Iterator<Item = (f64, f64, u64)>, size: f64) -> Vec<(f64, f64, u64)> {
    let mut cells: HashMap<(i64, i64), (f64, f64, u64)> = HashMap::new();
    for (lng, lat, weight) in points {
        let cell = ((lng / size).floor() as i64, (lat / size).floor() as i64);
        let entry = cells.entry(cell).or_insert((0.0, 0.0, 0));
        entry.0 += lng * weight as f64;
        entry.1 += lat * weight as f64;
        entry.2 += weight;
    }
    cells
        .into_values()
        .map(|(lng, lat, n)| (lng / n as f64, lat / n as f64, n))
        .collect()
}

impl Jobs {
    /// `GET /kmc/stats/jobs`: `differentTypes` and `statusCounts` over runs
    /// whose `timestamp` lies in the last `lastNDays` days (index counts:
    /// four, plus one per job type).
    pub async fn job_stats(&self, now: DateTime<Utc>, last_n_days: u32) -> Result<JobStats, ApiError> {
        let ns = self.history().await?;
        let c = Counters::read(self.history_store(), ns.clone(), now.date_naive(), last_n_days).await?;
        let total = match &ns {
            Some(ns) => self
                .history_store()
                .zcard(ns, job_runs::BY_CREATED)
                .await
                .map_err(ApiError::unavailable)?,
            None => 0,
        };
        let since = (now - Duration::days(i64::from(last_n_days))).timestamp_millis() as f64;
        let recent = || field("timestamp", FieldTest::Ge(Scalar::Number(since)));
        let mut status_counts = Vec::new();
        for status in JobStatus::ALL {
            let n = self
                .count(&and(recent(), field("status", FieldTest::Eq(text(status.as_str())))))
                .await?;
            if n > 0 {
                status_counts.push((status, n));
            }
        }
        let mut different_types = 0;
        for (queue, name) in self.types().await? {
            let of_type = and(
                field("queue", FieldTest::Eq(text(&queue))),
                field("name", FieldTest::Eq(text(&name))),
            );
            if self.count(&and(recent(), of_type)).await? > 0 {
                different_types += 1;
            }
        }
        Ok(JobStats {
            total,
            different_types,
            status_counts,
            runs: c.window(job_runs::RUNS_COUNTER),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_ends_today_and_has_exactly_n_days() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let days: Vec<String> = window_days(today, 3).iter().map(|d| d.to_string()).collect();
        assert_eq!(days, ["2026-02-27", "2026-02-28", "2026-03-01"]);
        assert!(window_days(today, 0).is_empty());
        assert_eq!(window_days(today, MAX_DAYS).len(), 365);
    }

    #[test]
    fn density_cells_hold_weighted_means() {
        let size = cell_size(0.0); // 45°
        let mut cells = grid_density(
            [(1.0, 1.0, 1), (3.0, 5.0, 3), (50.0, 1.0, 2), (-1.0, 1.0, 1)].into_iter(),
            size,
        );
        cells.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(cells, vec![(-1.0, 1.0, 1), (2.5, 4.0, 4), (50.0, 1.0, 2)]);
        assert_eq!(
            projections::kippenstummel::counters::day_of("2026-01-01T10:00:00.000Z"),
            "2026-01-01"
        );
    }
}
