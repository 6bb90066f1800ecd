//! HTTP endpoints for machines (`/api/v1/cvms`, `/api/v1/kmc/cvms`).

use super::api::filter_error;
use super::contract::{
    AdminAuthorization, CvmPage, CvmView, Filter as FilterParam, IdentHeader, LatLong, MachineId, ManualImportInput,
    OptionalIdentHeader, OsmImportInput, Page, PageInfo, PerPage, PositionInput, ReportInput, RepositionInput,
    WithinItem, Zoom,
};
use super::jobs::{EntriesData, ImportEntry, ImportSource, OsmData, CVM_IMPORT};
use super::machines::projection;
use super::usage::{centre, Viewer, MIN_TRACKED_ZOOM};
use super::validation::coordinates::{is_latitude_number, is_longitude_number};
use super::validation::{is_defined, js_number, viewport, Paging, Viewport, Violations};
use super::Kippenstummel;
use crate::http::documented::{Body, Param};
use crate::http::error::{self, ApiError};
use crate::jobs::Jobs;
use aggregates::kippenstummel::cvm::ReportType;
use aggregates::kippenstummel::geo::Position;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, Tags};
use projections::rsql::{FieldSet, Filter, Predicate};
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Tags)]
enum Tag {
    /// Cigarette vending machines: map, list, register, vote, report, reposition.
    Cvm,
    /// Kippenstummel management console: machines.
    KmcCvm,
}

pub struct MachinesApi {
    pub service: Arc<Kippenstummel>,
    pub jobs: Arc<Jobs>,
}

#[derive(ApiResponse)]
pub enum Created {
    /// Done (also when a repeated vote or report was ignored).
    #[oai(status = 201)]
    Created,
}

type Result<T> = std::result::Result<T, ApiError>;

#[derive(Clone, Copy)]
enum Axis {
    Longitude,
    Latitude,
}

fn field<'a>(body: &'a Value, name: &str) -> Option<&'a Value> {
    body.as_object().and_then(|o| o.get(name))
}

/// A required coordinate: isDefined, then isLongitude/isLatitude, then isNumber.
fn coordinate(body: &Value, name: &str, axis: Axis, violations: &mut Violations) -> f64 {
    let value = field(body, name);
    if !is_defined(value) {
        violations.add(name, "isDefined", format!("{name} should not be null or undefined"));
        return f64::NAN;
    }
    let (valid_number, constraint, what): (fn(f64) -> bool, _, _) = match axis {
        Axis::Longitude => (is_longitude_number, "isLongitude", "longitude"),
        Axis::Latitude => (is_latitude_number, "isLatitude", "latitude"),
    };
    let axis_violation = format!("{name} must be a {what} string or number");
    match value {
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) if valid_number(x) => x,
            _ => {
                violations.add(name, constraint, axis_violation);
                f64::NAN
            }
        },
        Some(Value::String(s)) if valid_number(js_number(s)) => {
            violations.add(
                name,
                "isNumber",
                format!("{name} must be a number conforming to the specified constraints"),
            );
            f64::NAN
        }
        _ => {
            violations.add(name, constraint, axis_violation);
            f64::NAN
        }
    }
}

fn position(body: &Value, lng: &str, lat: &str, violations: &mut Violations) -> Position {
    let longitude = coordinate(body, lng, Axis::Longitude, violations);
    let latitude = coordinate(body, lat, Axis::Latitude, violations);
    Position::new(longitude, latitude)
}

fn compile(set: &FieldSet, filter: Option<&str>) -> Result<Option<Filter>> {
    set.compile_param(filter).map_err(filter_error)
}

impl MachinesApi {
    /// The predicate a filter asks the store for.
    async fn predicate(&self, filter: Option<Filter>, kmc: bool) -> Result<Option<Predicate>> {
        match filter {
            Some(filter) if kmc => Ok(Some(self.service.with_references(filter.predicate()).await?)),
            Some(filter) => Ok(Some(filter.predicate().clone())),
            None => Ok(None),
        }
    }

    async fn within(
        &self,
        viewport: Viewport,
        filter: Option<Filter>,
        caller: Option<&str>,
        kmc: bool,
    ) -> Result<Json<Vec<WithinItem>>> {
        let items = match self.predicate(filter, kmc).await? {
            // Filters only apply from the dynamic-clustering zoom on (10.3).
            Some(predicate) if viewport.zoom >= 12.0 => {
                self.service.within_filtered(&viewport, caller, &predicate).await?
            }
            _ => self.service.within_tiles(&viewport, caller).await?,
        };
        Ok(Json(items))
    }

    async fn page(&self, paging: Paging, filter: Option<Filter>, kmc: bool) -> Result<Json<CvmPage>> {
        let predicate = self.predicate(filter, kmc).await?;
        let (content, total) = self
            .service
            .machine_page(predicate.as_ref(), paging.offset(), paging.per_page as usize)
            .await?;
        Ok(Json(CvmPage {
            content,
            info: PageInfo::new(&paging, total),
        }))
    }
}

fn report_type(value: Option<&Value>, violations: &mut Violations) -> Option<ReportType> {
    if !is_defined(value) {
        violations.add("type", "isDefined", "type should not be null or undefined".into());
        return None;
    }
    match value.and_then(Value::as_str) {
        Some("missing") => Some(ReportType::Missing),
        Some("spam") => Some(ReportType::Spam),
        Some("inactive") => Some(ReportType::Inactive),
        Some("inaccessible") => Some(ReportType::Inaccessible),
        _ => {
            violations.add("type", "isEnum", "type must be one of the following values: ".into());
            None
        }
    }
}

#[OpenApi(prefix_path = "/api/v1")]
impl MachinesApi {
    /// Machines and clusters in a viewport ("lat,lng" corners, zoom 8..18,
    /// optional RSQL filter honoured from zoom 12).
    #[oai(path = "/cvms/within", method = "get", tag = "Tag::Cvm")]
    async fn within_public(
        &self,
        #[oai(name = "x-ident")] ident: Header<Param<OptionalIdentHeader>>,
        #[oai(name = "bottomLeft")] bottom_left: Query<Param<LatLong>>,
        #[oai(name = "topRight")] top_right: Query<Param<LatLong>>,
        zoom: Query<Param<Zoom>>,
        filter: Query<Param<FilterParam>>,
        request: &poem::Request,
    ) -> Result<Json<Vec<WithinItem>>> {
        let caller = self.service.optional_identity(ident.0.as_deref()).await?;
        let viewport = viewport(bottom_left.0.as_deref(), top_right.0.as_deref(), zoom.0.as_deref())?;
        let filter = compile(FieldSet::public_cvm(), filter.0.as_deref())?;
        let answer = self
            .within(viewport, filter, caller.as_ref().map(|c| c.reference.as_str()), false)
            .await?;
        // Telemetry (spec 14.1): successful views from zoom 12, finite corners.
        if viewport.zoom >= MIN_TRACKED_ZOOM {
            let corners = (bottom_left.0.as_deref(), top_right.0.as_deref());
            if let Some((lng, lat)) = corners.0.zip(corners.1).and_then(|(bl, tr)| centre(bl, tr)) {
                let viewer = Viewer {
                    identity: caller.map(|c| c.identity),
                    ip: request
                        .extensions()
                        .get::<crate::http::ClientAddr>()
                        .map(|c| c.0.to_string())
                        .unwrap_or_default(),
                    user_agent: request.header("user-agent").unwrap_or_default().to_owned(),
                };
                self.service.track_usage(lng, lat, viewer);
            }
        }
        Ok(answer)
    }

    /// Machines, paged, optionally filtered.
    #[oai(path = "/cvms", method = "get", tag = "Tag::Cvm")]
    async fn list_public(
        &self,
        page: Query<Param<Page>>,
        #[oai(name = "perPage")] per_page: Query<Param<PerPage>>,
        filter: Query<Param<FilterParam>>,
    ) -> Result<Json<CvmPage>> {
        let mut violations = Violations::default();
        let paging = Paging::parse(page.0.as_deref(), per_page.0.as_deref(), &mut violations);
        violations.into_result()?;
        let filter = compile(FieldSet::public_cvm(), filter.0.as_deref())?;
        self.page(paging, filter, false).await
    }

    /// Register a machine at `{longitude, latitude}`; within 50 m of an
    /// existing one this upvotes that one instead.
    #[oai(path = "/cvms", method = "post", tag = "Tag::Cvm")]
    async fn register(
        &self,
        #[oai(name = "x-ident")] ident: Header<Param<IdentHeader>>,
        body: Json<Body<PositionInput>>,
    ) -> Result<Created> {
        let doc = self.service.require_identity(ident.0.as_deref()).await?;
        let mut violations = Violations::default();
        let at = position(&body.0, "longitude", "latitude", &mut violations);
        violations.into_result()?;
        self.service.register(&doc, at).await?;
        Ok(Created::Created)
    }

    /// One machine.
    #[oai(path = "/cvms/:id", method = "get", tag = "Tag::Cvm")]
    async fn get_public(
        &self,
        #[oai(name = "x-ident")] ident: Header<Param<OptionalIdentHeader>>,
        id: Path<Param<MachineId>>,
    ) -> Result<Json<CvmView>> {
        let caller = self.service.optional_identity(ident.0.as_deref()).await?;
        let machine = self
            .service
            .machine(id.0.value())
            .await?
            .ok_or_else(|| ApiError::new(error::NOT_FOUND))?;
        Ok(Json(projection(
            &machine,
            caller.as_ref().map(|c| c.reference.as_str()),
            None,
        )))
    }

    /// Move a machine by at most 25 m; the editor must be within 50 m of it.
    #[oai(path = "/cvms/:id", method = "patch", tag = "Tag::Cvm")]
    async fn reposition(
        &self,
        #[oai(name = "x-ident")] ident: Header<Param<IdentHeader>>,
        id: Path<Param<MachineId>>,
        body: Json<Body<RepositionInput>>,
    ) -> Result<()> {
        let doc = self.service.require_identity(ident.0.as_deref()).await?;
        let mut violations = Violations::default();
        let new_position = position(
            &body.0,
            "repositionedLongitude",
            "repositionedLatitude",
            &mut violations,
        );
        let editor = position(&body.0, "editorLongitude", "editorLatitude", &mut violations);
        violations.into_result()?;
        self.service.reposition(&doc, id.0.value(), new_position, editor).await
    }

    /// Upvote a machine from `{longitude, latitude}` (within 50 m); one vote per week.
    #[oai(path = "/cvms/:id/upvote", method = "post", tag = "Tag::Cvm")]
    async fn upvote(
        &self,
        #[oai(name = "x-ident")] ident: Header<Param<IdentHeader>>,
        id: Path<Param<MachineId>>,
        body: Json<Body<PositionInput>>,
    ) -> Result<Created> {
        self.vote(ident, id, body, true).await
    }

    /// Downvote a machine from `{longitude, latitude}` (within 50 m); one vote per week.
    #[oai(path = "/cvms/:id/downvote", method = "post", tag = "Tag::Cvm")]
    async fn downvote(
        &self,
        #[oai(name = "x-ident")] ident: Header<Param<IdentHeader>>,
        id: Path<Param<MachineId>>,
        body: Json<Body<PositionInput>>,
    ) -> Result<Created> {
        self.vote(ident, id, body, false).await
    }

    /// Report a machine (`type`: missing, spam, inactive, inaccessible); one report per week.
    #[oai(path = "/cvms/:id/report", method = "post", tag = "Tag::Cvm")]
    async fn report(
        &self,
        #[oai(name = "x-ident")] ident: Header<Param<IdentHeader>>,
        id: Path<Param<MachineId>>,
        body: Json<Body<ReportInput>>,
    ) -> Result<Created> {
        let doc = self.service.require_identity(ident.0.as_deref()).await?;
        let mut violations = Violations::default();
        let at = position(&body.0, "longitude", "latitude", &mut violations);
        let kind = report_type(field(&body.0, "type"), &mut violations);
        violations.into_result()?;
        self.service
            .report(&doc, id.0.value(), at, kind.expect("validated"))
            .await?;
        Ok(Created::Created)
    }

    /// KMC: machines and clusters in a viewport (filter may use registeredBy).
    #[oai(path = "/kmc/cvms/within", method = "get", tag = "Tag::KmcCvm")]
    async fn within_kmc(
        &self,
        #[oai(name = "Authorization")] authorization: Header<Param<AdminAuthorization>>,
        #[oai(name = "bottomLeft")] bottom_left: Query<Param<LatLong>>,
        #[oai(name = "topRight")] top_right: Query<Param<LatLong>>,
        zoom: Query<Param<Zoom>>,
        filter: Query<Param<FilterParam>>,
    ) -> Result<Json<Vec<WithinItem>>> {
        self.service.require_admin(authorization.0.as_deref())?;
        let viewport = viewport(bottom_left.0.as_deref(), top_right.0.as_deref(), zoom.0.as_deref())?;
        let filter = compile(FieldSet::kmc_cvm(), filter.0.as_deref())?;
        self.within(viewport, filter, None, true).await
    }

    /// KMC: machines, paged, optionally filtered.
    #[oai(path = "/kmc/cvms", method = "get", tag = "Tag::KmcCvm")]
    async fn list_kmc(
        &self,
        #[oai(name = "Authorization")] authorization: Header<Param<AdminAuthorization>>,
        page: Query<Param<Page>>,
        #[oai(name = "perPage")] per_page: Query<Param<PerPage>>,
        filter: Query<Param<FilterParam>>,
    ) -> Result<Json<CvmPage>> {
        self.service.require_admin(authorization.0.as_deref())?;
        let mut violations = Violations::default();
        let paging = Paging::parse(page.0.as_deref(), per_page.0.as_deref(), &mut violations);
        violations.into_result()?;
        let filter = compile(FieldSet::kmc_cvm(), filter.0.as_deref())?;
        self.page(paging, filter, true).await
    }

    /// KMC: one machine.
    #[oai(path = "/kmc/cvms/:id", method = "get", tag = "Tag::KmcCvm")]
    async fn get_kmc(
        &self,
        #[oai(name = "Authorization")] authorization: Header<Param<AdminAuthorization>>,
        id: Path<Param<MachineId>>,
    ) -> Result<Json<CvmView>> {
        self.service.require_admin(authorization.0.as_deref())?;
        let machine = self
            .service
            .machine(id.0.value())
            .await?
            .ok_or_else(|| ApiError::new(error::NOT_FOUND))?;
        Ok(Json(projection(&machine, None, None)))
    }

    /// KMC: remove a machine (404 when unknown or already removed).
    #[oai(path = "/kmc/cvms/:id", method = "delete", tag = "Tag::KmcCvm")]
    async fn delete_kmc(
        &self,
        #[oai(name = "Authorization")] authorization: Header<Param<AdminAuthorization>>,
        id: Path<Param<MachineId>>,
    ) -> Result<()> {
        self.service.require_admin(authorization.0.as_deref())?;
        self.service.remove(id.0.value()).await
    }

    /// KMC: import a JSON file of `[{longitude, latitude, score?}]` (≤ 10,000 bytes).
    #[oai(path = "/kmc/cvms/import/file", method = "post", tag = "Tag::KmcCvm")]
    async fn import_file(
        &self,
        #[oai(name = "Authorization")] authorization: Header<Param<AdminAuthorization>>,
        upload: ImportFile,
    ) -> Result<Created> {
        self.service.require_admin(authorization.0.as_deref())?;
        let file = upload
            .file
            .ok_or_else(|| import_file_error("no file in field `file`"))?;
        if file.size() > IMPORT_FILE_LIMIT {
            return Err(import_file_error("the file is larger than 10000 bytes"));
        }
        // The spec's "file type json" (the original could never check it: bug).
        let filename = file.file_name().unwrap_or_default().to_owned();
        let mimetype = file.content_type().unwrap_or_default().to_owned();
        if !mimetype.contains("json") && !filename.to_ascii_lowercase().ends_with(".json") {
            return Err(import_file_error("the file is not JSON (content type or .json name)"));
        }
        // The upload is held in memory (within the body limit), never
        // written to TMP_DIR, so no outcome leaves a file behind.
        let bytes = file.into_vec().await.map_err(import_file_error)?;
        if bytes.len() > IMPORT_FILE_LIMIT {
            return Err(import_file_error("the file is larger than 10000 bytes"));
        }
        let entries: Vec<Value> = serde_json::from_slice(&bytes).map_err(import_file_error)?;
        let mut violations = Violations::default();
        let mut parsed = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let mut own = Violations::default();
            let at = position(entry, "longitude", "latitude", &mut own);
            let score = match field(entry, "score") {
                None | Some(Value::Null) => None,
                Some(v) => match v.as_f64() {
                    Some(s) if (-10.0..=10.0).contains(&s) => Some(s as i32),
                    _ => {
                        own.add("score", "max", "score must be a number from -10 to 10".into());
                        None
                    }
                },
            };
            for violation in own.take() {
                violations.push_prefixed(&format!("{i}."), violation);
            }
            parsed.push((at, score));
        }
        if !violations.is_empty() {
            return Err(ApiError::with_details(
                error::INVALID_IMPORT_FILE,
                Some(violations.take()),
            ));
        }
        let mut data = entries_data(parsed);
        data["filename"] = json!(filename);
        data["mimetype"] = json!(mimetype);
        data["encoding"] = json!("7bit");
        submit_import(&self.jobs, ImportSource::File, data).await
    }

    /// KMC: import the machines OpenStreetMap knows in `{region}` (runs in the
    /// background; the answer comes before the import is done).
    #[oai(path = "/kmc/cvms/import/osm", method = "post", tag = "Tag::KmcCvm")]
    async fn import_osm(
        &self,
        #[oai(name = "Authorization")] authorization: Header<Param<AdminAuthorization>>,
        body: Json<Body<OsmImportInput>>,
    ) -> Result<Created> {
        self.service.require_admin(authorization.0.as_deref())?;
        let region = match field(&body.0, "region") {
            None | Some(Value::Null) => {
                let mut violations = Violations::default();
                violations.add("region", "isDefined", "region should not be null or undefined".into());
                return Err(violations.into_result().unwrap_err());
            }
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let data = serde_json::to_value(OsmData { region }).expect("import data serializes");
        submit_import(&self.jobs, ImportSource::Osm, data).await
    }

    /// KMC: import `{cvms: [{longitude, latitude, score?}]}`; entries within
    /// 50 m of a machine update it, others create machines.
    #[oai(path = "/kmc/cvms/import/manual", method = "post", tag = "Tag::KmcCvm")]
    async fn import_manual(
        &self,
        #[oai(name = "Authorization")] authorization: Header<Param<AdminAuthorization>>,
        body: Json<Body<ManualImportInput>>,
    ) -> Result<Created> {
        self.service.require_admin(authorization.0.as_deref())?;
        let mut violations = Violations::default();
        let mut entries = Vec::new();
        match field(&body.0, "cvms") {
            None | Some(Value::Null) => {
                violations.add("cvms", "isDefined", "cvms should not be null or undefined".into())
            }
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let mut own = Violations::default();
                    let at = position(item, "longitude", "latitude", &mut own);
                    let score = match field(item, "score") {
                        None | Some(Value::Null) => None,
                        Some(Value::Number(n)) => match n.as_f64() {
                            Some(s) if s < -10.0 => {
                                own.add("score", "min", "score must not be less than -10".into());
                                None
                            }
                            Some(s) if s > 10.0 => {
                                own.add("score", "max", "score must not be greater than 10".into());
                                None
                            }
                            s => s.map(|s| s as i32),
                        },
                        Some(_) => {
                            own.add(
                                "score",
                                "isNumber",
                                "score must be a number conforming to the specified constraints".into(),
                            );
                            None
                        }
                    };
                    for violation in own.take() {
                        violations.push_prefixed(&format!("cvms.{i}."), violation);
                    }
                    entries.push((at, score));
                }
            }
            Some(_) => violations.add("cvms", "isArray", "cvms must be an array".into()),
        }
        violations.into_result()?;
        submit_import(&self.jobs, ImportSource::Manual, entries_data(entries)).await
    }
}

/// Starts an import job (the original's contract: 201 at once, the import
/// in a worker): the run is in the job history as `running` when the
/// answer goes out, and the machines appear as its batches finish.
async fn submit_import(jobs: &Arc<Jobs>, source: ImportSource, data: Value) -> Result<Created> {
    jobs.submit(CVM_IMPORT, source.job_name(), data).await?;
    Ok(Created::Created)
}

fn entries_data(entries: Vec<(Position, Option<i32>)>) -> Value {
    let cvms = entries.into_iter().map(ImportEntry::new).collect();
    serde_json::to_value(EntriesData { cvms }).expect("import data serializes")
}

/// `multipart/form-data` with the import file in field `file`.
#[derive(poem_openapi::Multipart)]
pub struct ImportFile {
    /// A JSON array of `{longitude, latitude, score?}`, at most 10,000 bytes.
    file: Option<poem_openapi::types::multipart::Upload>,
}

/// Largest accepted import file (spec 5.1).
const IMPORT_FILE_LIMIT: usize = 10_000;

fn import_file_error(reason: impl std::fmt::Display) -> ApiError {
    ApiError::with_details(error::INVALID_IMPORT_FILE, Some(vec![json!(reason.to_string())]))
}

impl MachinesApi {
    async fn vote(
        &self,
        ident: Header<Param<IdentHeader>>,
        id: Path<Param<MachineId>>,
        body: Json<Body<PositionInput>>,
        up: bool,
    ) -> Result<Created> {
        let doc = self.service.require_identity(ident.0.as_deref()).await?;
        let mut violations = Violations::default();
        let at = position(&body.0, "longitude", "latitude", &mut violations);
        violations.into_result()?;
        self.service.vote(&doc, id.0.value(), up, at).await?;
        Ok(Created::Created)
    }
}
