//! The published shapes of the Kippenstummel API: the parameters and bodies
//! the handlers accept (documented with the constraints they enforce; see
//! `crate::http::documented` for why they are read raw) and the typed
//! responses (property order is contract, spec 4).

use crate::http::documented::{integer, number, pattern, string};
use crate::param_schema;
use poem_openapi::registry::MetaSchema;
use poem_openapi::{Enum, Object, Union};

const JWT: &str = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$";
const UUID: &str = "uuid";

fn uuid_string() -> MetaSchema {
    MetaSchema {
        format: Some(UUID),
        ..string()
    }
}

param_schema!(
    /// "lat,lng", latitude first (spec 2.5).
    LatLong,
    required: true,
    MetaSchema {
        description: Some("\"lat,lng\", latitude first"),
        ..pattern(&super::validation::coordinates::lat_long_pattern())
    }
);
param_schema!(
    /// Map zoom of `/cvms/within` (8..18; fractional zooms find no stored tile).
    Zoom,
    required: true,
    number(8.0, 18.0)
);
param_schema!(
    /// Page number, from 0.
    Page,
    required: false,
    integer(0.0, None)
);
param_schema!(
    /// Items per page.
    PerPage,
    required: false,
    MetaSchema {
        default: Some(serde_json::json!(25)),
        ..integer(1.0, Some(50.0))
    }
);
param_schema!(
    /// An RSQL filter (spec 8).
    Filter,
    required: false,
    MetaSchema {
        max_length: Some(projections::rsql::MAX_FILTER_BYTES),
        ..string()
    }
);
param_schema!(
    /// What a captcha is for.
    CaptchaScope,
    required: true,
    MetaSchema {
        enum_items: vec![serde_json::json!("registration"), serde_json::json!("transfer")],
        ..string()
    }
);
param_schema!(
    /// `x-captcha: <captcha id>:<text>`.
    CaptchaStamp,
    required: true,
    pattern("^[0-9a-f]{32}:.+$")
);
param_schema!(
    /// `x-ident`: an ident token (JWT).
    IdentHeader,
    required: true,
    pattern(JWT)
);
param_schema!(
    /// `x-ident`, optional: identifies the caller (for `alreadyVoted`).
    OptionalIdentHeader,
    required: false,
    pattern(JWT)
);
param_schema!(
    /// `Authorization: Bearer <admin JWT>`.
    AdminAuthorization,
    required: true,
    pattern(r"^Bearer [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
);
param_schema!(
    /// A machine id.
    MachineId,
    required: true,
    uuid_string()
);
param_schema!(
    /// An identity.
    Identity,
    required: true,
    uuid_string()
);
param_schema!(
    /// A transfer token.
    TransferTokenParam,
    required: true,
    pattern("^[0-9a-f]{32}$")
);

// ------------------------------------------------------------- request bodies

/// A position on the map.
#[derive(Object)]
pub struct PositionInput {
    #[oai(validator(minimum(value = "-180"), maximum(value = "180")))]
    pub longitude: f64,
    #[oai(validator(minimum(value = "-90"), maximum(value = "90")))]
    pub latitude: f64,
}

#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct RepositionInput {
    #[oai(validator(minimum(value = "-180"), maximum(value = "180")))]
    pub repositioned_longitude: f64,
    #[oai(validator(minimum(value = "-90"), maximum(value = "90")))]
    pub repositioned_latitude: f64,
    #[oai(validator(minimum(value = "-180"), maximum(value = "180")))]
    pub editor_longitude: f64,
    #[oai(validator(minimum(value = "-90"), maximum(value = "90")))]
    pub editor_latitude: f64,
}

#[derive(Enum)]
#[oai(rename_all = "lowercase")]
pub enum ReportKind {
    Missing,
    Spam,
    Inactive,
    Inaccessible,
}

/// A report, from where the reporter stands.
#[derive(Object)]
pub struct ReportInput {
    #[oai(validator(minimum(value = "-180"), maximum(value = "180")))]
    pub longitude: f64,
    #[oai(validator(minimum(value = "-90"), maximum(value = "90")))]
    pub latitude: f64,
    #[oai(rename = "type")]
    pub kind: ReportKind,
}

#[derive(Object)]
pub struct LoginInput {
    #[oai(validator(pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"))]
    pub identity: String,
    /// The secret `GET /ident` returned (128 lowercase hex characters).
    #[oai(validator(pattern = "^[0-9a-f]{128}$"))]
    pub secret: String,
}

#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct TransferInput {
    /// Validated, then ignored: the token is for the caller.
    #[oai(validator(pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"))]
    pub identity: String,
    /// The caller's secret, encrypted on the device; stored opaque.
    pub encrypted_secret: String,
}

/// `null` clears the username; absent changes nothing.
#[derive(Object)]
pub struct UsernameInput {
    #[oai(validator(pattern = "^[A-Za-z](?:[A-Za-z0-9_-]{2,14}[A-Za-z0-9])$"))]
    pub username: Option<String>,
}

#[derive(Object)]
pub struct TrustedInput {
    pub trusted: Option<bool>,
}

#[derive(Object)]
pub struct ImportEntry {
    #[oai(validator(minimum(value = "-180"), maximum(value = "180")))]
    pub longitude: f64,
    #[oai(validator(minimum(value = "-90"), maximum(value = "90")))]
    pub latitude: f64,
    #[oai(validator(minimum(value = "-10"), maximum(value = "10")))]
    pub score: Option<f64>,
}

/// Machines to import; entries within 50 m of a machine update it.
#[derive(Object)]
pub struct ManualImportInput {
    pub cvms: Vec<ImportEntry>,
}

/// A region OpenStreetMap's Nominatim finds ("Karlsruhe").
#[derive(Object)]
pub struct OsmImportInput {
    pub region: String,
}

// ------------------------------------------------------------------ responses

/// Reports of the last 7 days, per type.
#[derive(Object, Debug, Clone, Default, PartialEq)]
pub struct RecentlyReported {
    pub missing: u64,
    pub spam: u64,
    pub inactive: u64,
    pub inaccessible: u64,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq)]
#[oai(rename_all = "lowercase")]
pub enum VoteKind {
    Upvote,
    Downvote,
}

/// CvmProjection (spec 4): one machine.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase")]
pub struct CvmView {
    pub id: String,
    pub longitude: f64,
    pub latitude: f64,
    pub score: i64,
    pub imported: bool,
    pub recently_reported: RecentlyReported,
    /// The caller's vote within the last 7 days, if any.
    #[oai(skip_serializing_if_is_none)]
    pub already_voted: Option<VoteKind>,
    pub created_at: String,
    pub updated_at: String,
}

/// CvmCluster (spec 4): several machines drawn as one.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct CvmCluster {
    /// Always `true`.
    pub cluster: bool,
    pub longitude: f64,
    pub latitude: f64,
    pub count: u64,
}

/// One element of a `/cvms/within` answer.
#[derive(Union, Debug, Clone, PartialEq)]
pub enum WithinItem {
    Cluster(CvmCluster),
    Machine(CvmView),
}

/// Page info (spec 4).
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase")]
pub struct PageInfo {
    pub page: u64,
    pub per_page: u64,
    pub total_elements: u64,
    pub total_pages: u64,
}

impl PageInfo {
    pub fn new(paging: &super::validation::Paging, total: u64) -> Self {
        Self {
            page: paging.page,
            per_page: paging.per_page,
            total_elements: total,
            total_pages: total.div_ceil(paging.per_page),
        }
    }
}

/// A page of machines.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct CvmPage {
    pub content: Vec<CvmView>,
    pub info: PageInfo,
}

// ------------------------------------------------------- KMC jobs and statistics

param_schema!(
    /// Days of history, a whole number 0..365 (default 14).
    LastNDays,
    required: false,
    MetaSchema {
        default: Some(serde_json::json!(14)),
        ..integer(0.0, Some(365.0))
    }
);
param_schema!(
    /// Map zoom of the density views (0..18).
    DensityZoom,
    required: true,
    number(0.0, 18.0)
);
param_schema!(
    /// `true`: only the newest run of each job type; anything else: every run.
    Distinct,
    required: false,
    string()
);
param_schema!(
    /// A job queue (`cvm-import`, `cvm-management`, `job-management`).
    QueueName,
    required: true,
    MetaSchema {
        max_length: Some(100),
        ..string()
    }
);
param_schema!(
    /// A job run's id within its queue.
    JobId,
    required: true,
    MetaSchema {
        max_length: Some(200),
        ..string()
    }
);

/// A job run (spec 5.3); absent values are omitted.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase")]
pub struct JobRunView {
    pub job_id: String,
    pub name: String,
    pub queue: String,
    /// The job's input (an import's machines, an OSM region).
    pub data: serde_json::Value,
    /// `running`, `completed`, `failed` or `orphaned`.
    pub status: String,
    #[oai(skip_serializing_if_is_none)]
    pub result: Option<serde_json::Value>,
    #[oai(skip_serializing_if_is_none)]
    pub failed_reason: Option<String>,
    pub attempts_made: u32,
    /// When the job was created, epoch milliseconds.
    pub timestamp: i64,
    /// When the run ended, epoch milliseconds.
    #[oai(skip_serializing_if_is_none)]
    pub finished_on: Option<i64>,
    pub logs: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A page of job runs.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct JobRunPage {
    pub content: Vec<JobRunView>,
    pub info: PageInfo,
}

/// One day of a history.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct DayCountView {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    pub count: u64,
}

/// A counter with its history over the last `lastNDays` days.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase")]
pub struct CountedView {
    pub total: u64,
    pub total_last_n_days: u64,
    pub history: Vec<DayCountView>,
}

#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase")]
pub struct CvmStatsView {
    pub total: u64,
    pub average_score: f64,
    pub imports: CountedView,
    pub registrations: CountedView,
}

#[derive(Object, Debug, Clone, PartialEq)]
pub struct VoteStatsView {
    pub total: u64,
    pub upvotes: CountedView,
    pub downvotes: CountedView,
}

#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase")]
pub struct IdentStatsView {
    pub total: u64,
    pub average_credibility: f64,
    pub total_new_last_n_days: u64,
    pub new_history: Vec<DayCountView>,
}

/// Job runs by status; only statuses that occur are present.
#[derive(Object, Debug, Clone, PartialEq, Default)]
pub struct StatusCountsView {
    #[oai(skip_serializing_if_is_none)]
    pub running: Option<u64>,
    #[oai(skip_serializing_if_is_none)]
    pub completed: Option<u64>,
    #[oai(skip_serializing_if_is_none)]
    pub failed: Option<u64>,
    #[oai(skip_serializing_if_is_none)]
    pub orphaned: Option<u64>,
}

#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase")]
pub struct JobStatsView {
    pub total: u64,
    pub different_types: u64,
    pub status_counts: StatusCountsView,
    pub total_run_last_n_days: u64,
    pub run_history: Vec<DayCountView>,
}

/// One cell of a density view: the mean position of what it counts.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct DensityCellView {
    pub longitude: f64,
    pub latitude: f64,
    pub count: u64,
}
