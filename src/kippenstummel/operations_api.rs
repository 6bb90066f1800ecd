//! HTTP endpoints of the console's operations pages: job runs (spec 5.3)
//! and statistics (5.4). Every endpoint checks the admin JWT first.

use super::api::{filter_error, paging};
use super::contract::{
    AdminAuthorization, CountedView, CvmStatsView, DayCountView, DensityCellView, DensityZoom, Distinct,
    Filter as FilterParam, IdentStatsView, JobId, JobRunPage, JobRunView, JobStatsView, LastNDays, LatLong, Page,
    PageInfo, PerPage, QueueName, StatusCountsView, VoteStatsView,
};
use super::stats::{Counted, DayCount, MAX_DAYS};
use super::validation::coordinates::{is_lat_long, parse_lat_long};
use super::validation::{js_number, Violations};
use super::Kippenstummel;
use crate::http::documented::Param;
use crate::http::error::{self, ApiError};
use crate::jobs::Jobs;
use aggregates::kippenstummel::job_run::JobStatus;
use chrono::Utc;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{OpenApi, Tags};
use projections::kippenstummel::job_runs::JobRunDocument;
use projections::rsql::{BoundingBox, FieldSet};
use std::sync::Arc;

#[derive(Tags)]
enum Tag {
    /// Kippenstummel management console: background jobs and their runs.
    KmcJobs,
    /// Kippenstummel management console: statistics.
    KmcStats,
}

pub struct OperationsApi {
    pub service: Arc<Kippenstummel>,
    pub jobs: Arc<Jobs>,
}

type Result<T> = std::result::Result<T, ApiError>;

/// `lastNDays`: a whole number 0..365, default 14.
fn last_n_days(raw: Option<&str>) -> Result<u32> {
    let Some(raw) = raw else {
        return Ok(14);
    };
    let n = js_number(raw);
    let mut violations = Violations::default();
    if n.is_nan() || n > f64::from(MAX_DAYS) {
        violations.add(
            "lastNDays",
            "max",
            format!("lastNDays must not be greater than {MAX_DAYS}"),
        );
    } else if n < 0.0 {
        violations.add("lastNDays", "min", "lastNDays must not be less than 0".into());
    } else if n.fract() != 0.0 {
        violations.add("lastNDays", "isInt", "lastNDays must be an integer number".into());
    }
    violations.into_result()?;
    Ok(n as u32)
}

/// The density views' box and zoom: `isLatLong` corners (no size limit),
/// zoom 0..18. An inverted box is read the right way round.
fn density_box(bottom_left: Option<&str>, top_right: Option<&str>, zoom: Option<&str>) -> Result<(BoundingBox, f64)> {
    let mut violations = Violations::default();
    for (name, value) in [("bottomLeft", bottom_left), ("topRight", top_right)] {
        match value {
            None => violations.add(name, "isDefined", format!("{name} should not be null or undefined")),
            Some(v) if !is_lat_long(v) => {
                violations.add(name, "isLatLong", format!("{name} must be a latitude,longitude string"))
            }
            Some(_) => {}
        }
    }
    let zoom_number = zoom.map_or(f64::NAN, js_number);
    if zoom.is_none() {
        violations.add("zoom", "isDefined", "zoom should not be null or undefined".into());
    } else if zoom_number.is_nan() || zoom_number > 18.0 {
        violations.add("zoom", "max", "zoom must not be greater than 18".into());
    } else if zoom_number < 0.0 {
        violations.add("zoom", "min", "zoom must not be less than 0".into());
    }
    violations.into_result()?;
    let (south, west) = parse_lat_long(bottom_left.unwrap_or_default());
    let (north, east) = parse_lat_long(top_right.unwrap_or_default());
    Ok((
        BoundingBox {
            min_lng: west.min(east),
            min_lat: south.min(north),
            max_lng: west.max(east),
            max_lat: south.max(north),
        },
        zoom_number,
    ))
}

fn days(history: Vec<DayCount>) -> Vec<DayCountView> {
    history
        .into_iter()
        .map(|d| DayCountView {
            date: d.date,
            count: d.count,
        })
        .collect()
}

fn counted(c: Counted) -> CountedView {
    CountedView {
        total: c.total,
        total_last_n_days: c.window.total_last_n_days,
        history: days(c.window.history),
    }
}

fn run_view(doc: JobRunDocument) -> JobRunView {
    JobRunView {
        job_id: doc.job_id,
        name: doc.name,
        queue: doc.queue,
        data: doc.data,
        status: doc.status.as_str().to_owned(),
        result: doc.result,
        failed_reason: doc.failed_reason,
        attempts_made: doc.attempts_made,
        timestamp: doc.timestamp,
        finished_on: doc.finished_on,
        logs: doc.logs,
        created_at: doc.created_at,
        updated_at: doc.updated_at,
    }
}

fn cells(cells: Vec<(f64, f64, u64)>) -> Vec<DensityCellView> {
    cells
        .into_iter()
        .map(|(longitude, latitude, count)| DensityCellView {
            longitude,
            latitude,
            count,
        })
        .collect()
}

#[OpenApi(prefix_path = "/api/v1")]
impl OperationsApi {
    /// KMC: job runs, newest first; `distinct=true`: only the newest run of
    /// each job type.
    #[oai(path = "/kmc/jobs/runs", method = "get", tag = "Tag::KmcJobs")]
    async fn runs(
        &self,
        #[oai(name = "Authorization")] authorization: Header<Param<AdminAuthorization>>,
        page: Query<Param<Page>>,
        #[oai(name = "perPage")] per_page: Query<Param<PerPage>>,
        distinct: Query<Param<Distinct>>,
    ) -> Result<Json<JobRunPage>> {
        self.service.require_admin(authorization.0.as_deref())?;
        let paging = paging(&page, &per_page)?;
        let distinct = distinct.0.as_deref() == Some("true");
        let (runs, total) = self
            .jobs
            .runs(paging.offset(), paging.per_page as usize, distinct)
            .await?;
        Ok(Json(JobRunPage {
            content: runs.into_iter().map(run_view).collect(),
            info: PageInfo::new(&paging, total),
        }))
    }

    /// KMC: one job run; 404 when the queue has no run of that id.
    #[oai(path = "/kmc/jobs/queues/:queue/runs/:jobId", method = "get", tag = "Tag::KmcJobs")]
    async fn run(
        &self,
        #[oai(name = "Authorization")] authorization: Header<Param<AdminAuthorization>>,
        queue: Path<Param<QueueName>>,
        #[oai(name = "jobId")] job_id: Path<Param<JobId>>,
    ) -> Result<Json<JobRunView>> {
        self.service.require_admin(authorization.0.as_deref())?;
        let run = self
            .jobs
            .run(queue.0.value(), job_id.0.value())
            .await?
            .ok_or_else(|| ApiError::new(error::NOT_FOUND))?;
        Ok(Json(run_view(run)))
    }

    /// KMC: machines in total, by origin, and new per day.
    #[oai(path = "/kmc/stats/cvms", method = "get", tag = "Tag::KmcStats")]
    async fn cvm_stats(
        &self,
        #[oai(name = "Authorization")] authorization: Header<Param<AdminAuthorization>>,
        #[oai(name = "lastNDays")] last: Query<Param<LastNDays>>,
    ) -> Result<Json<CvmStatsView>> {
        self.service.require_admin(authorization.0.as_deref())?;
        let n = last_n_days(last.0.as_deref())?;
        let stats = self.service.cvm_stats(Utc::now().date_naive(), n).await?;
        Ok(Json(CvmStatsView {
            total: stats.total,
            average_score: stats.average_score,
            imports: counted(stats.imports),
            registrations: counted(stats.registrations),
        }))
    }

    /// KMC: votes in total, by type, and per day.
    #[oai(path = "/kmc/stats/votes", method = "get", tag = "Tag::KmcStats")]
    async fn vote_stats(
        &self,
        #[oai(name = "Authorization")] authorization: Header<Param<AdminAuthorization>>,
        #[oai(name = "lastNDays")] last: Query<Param<LastNDays>>,
    ) -> Result<Json<VoteStatsView>> {
        self.service.require_admin(authorization.0.as_deref())?;
        let n = last_n_days(last.0.as_deref())?;
        let stats = self.service.vote_stats(Utc::now().date_naive(), n).await?;
        Ok(Json(VoteStatsView {
            total: stats.total,
            upvotes: counted(stats.upvotes),
            downvotes: counted(stats.downvotes),
        }))
    }

    /// KMC: identities in total, their mean credibility, and new per day.
    #[oai(path = "/kmc/stats/idents", method = "get", tag = "Tag::KmcStats")]
    async fn ident_stats(
        &self,
        #[oai(name = "Authorization")] authorization: Header<Param<AdminAuthorization>>,
        #[oai(name = "lastNDays")] last: Query<Param<LastNDays>>,
    ) -> Result<Json<IdentStatsView>> {
        self.service.require_admin(authorization.0.as_deref())?;
        let n = last_n_days(last.0.as_deref())?;
        let stats = self.service.ident_stats(Utc::now().date_naive(), n).await?;
        Ok(Json(IdentStatsView {
            total: stats.total,
            average_credibility: stats.average_credibility,
            total_new_last_n_days: stats.new.total_last_n_days,
            new_history: days(stats.new.history),
        }))
    }

    /// KMC: job runs in total, by status and type in the window, and per day.
    #[oai(path = "/kmc/stats/jobs", method = "get", tag = "Tag::KmcStats")]
    async fn job_stats(
        &self,
        #[oai(name = "Authorization")] authorization: Header<Param<AdminAuthorization>>,
        #[oai(name = "lastNDays")] last: Query<Param<LastNDays>>,
    ) -> Result<Json<JobStatsView>> {
        self.service.require_admin(authorization.0.as_deref())?;
        let n = last_n_days(last.0.as_deref())?;
        let stats = self.jobs.job_stats(Utc::now(), n).await?;
        let mut status_counts = StatusCountsView::default();
        for (status, count) in stats.status_counts {
            let slot = match status {
                JobStatus::Running => &mut status_counts.running,
                JobStatus::Completed => &mut status_counts.completed,
                JobStatus::Failed => &mut status_counts.failed,
                JobStatus::Orphaned => &mut status_counts.orphaned,
            };
            *slot = Some(count);
        }
        Ok(Json(JobStatsView {
            total: stats.total,
            different_types: stats.different_types,
            status_counts,
            total_run_last_n_days: stats.runs.total_last_n_days,
            run_history: days(stats.runs.history),
        }))
    }

    /// KMC: machines in a box, counted per grid cell of `360 / 2^(zoom+3)` degrees.
    #[oai(path = "/kmc/stats/cvms/density", method = "get", tag = "Tag::KmcStats")]
    async fn machine_density(
        &self,
        #[oai(name = "Authorization")] authorization: Header<Param<AdminAuthorization>>,
        #[oai(name = "bottomLeft")] bottom_left: Query<Param<LatLong>>,
        #[oai(name = "topRight")] top_right: Query<Param<LatLong>>,
        zoom: Query<Param<DensityZoom>>,
        filter: Query<Param<FilterParam>>,
    ) -> Result<Json<Vec<DensityCellView>>> {
        self.service.require_admin(authorization.0.as_deref())?;
        let (bbox, zoom) = density_box(bottom_left.0.as_deref(), top_right.0.as_deref(), zoom.0.as_deref())?;
        let filter = FieldSet::kmc_cvm()
            .compile_param(filter.0.as_deref())
            .map_err(filter_error)?;
        let predicate = match &filter {
            Some(filter) => Some(self.service.with_references(filter.predicate()).await?),
            None => None,
        };
        let grid = self.service.machine_density(bbox, zoom, predicate.as_ref()).await?;
        Ok(Json(cells(grid)))
    }

    /// KMC: where the map was looked at (zoom ≥ 12 views, one per person,
    /// area and hour), per geohash cell of a precision fitting `zoom`.
    #[oai(path = "/kmc/stats/usage-density", method = "get", tag = "Tag::KmcStats")]
    async fn usage_density(
        &self,
        #[oai(name = "Authorization")] authorization: Header<Param<AdminAuthorization>>,
        #[oai(name = "bottomLeft")] bottom_left: Query<Param<LatLong>>,
        #[oai(name = "topRight")] top_right: Query<Param<LatLong>>,
        zoom: Query<Param<DensityZoom>>,
        #[oai(name = "lastNDays")] last: Query<Param<LastNDays>>,
    ) -> Result<Json<Vec<DensityCellView>>> {
        self.service.require_admin(authorization.0.as_deref())?;
        let (bbox, zoom) = density_box(bottom_left.0.as_deref(), top_right.0.as_deref(), zoom.0.as_deref())?;
        let n = last_n_days(last.0.as_deref())?;
        let grid = self
            .service
            .usage_density(bbox, zoom, Utc::now().date_naive(), n)
            .await?;
        Ok(Json(cells(grid)))
    }
}
