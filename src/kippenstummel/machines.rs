//! Machine (CVM) use cases (spec 4.10–4.16, 5.1, 9.4): commands through the
//! CVM aggregate, queries over the `cvms` and `cvm-tiles` read models.

use super::contract::{CvmCluster, CvmView, RecentlyReported, VoteKind, WithinItem};
use super::reservation::{same_machine_box, SAME_MACHINE_KM};
use super::validation::Viewport;
use super::Kippenstummel;
use crate::event_store::{CommandError, CommandMetadata};
use crate::http::error::{self, ApiError};
use aggregates::kippenstummel::cvm::{CvmCommand, CvmError, ReportType, VoteOrigin};
use aggregates::kippenstummel::geo::{km, Position};
use aggregates::kippenstummel::throttle::{is_throttled, ThrottleInput, ThrottledAction};
use chrono::{DateTime, Duration, Utc};
use projections::kippenstummel::{cvms, tiles};
use projections::rsql::{BoundingBox, FieldTest, Predicate, Scalar};
use projections::supercluster::{self, BBox, ClusterOptions, ClusterOrPoint, InputPoint, Supercluster};
use projections::{DocQuery, Namespace, ReadStore};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// How long a command waits for a read model to catch up before giving up (503).
const CATCH_UP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Windows of `recentlyReported` and `alreadyVoted` (RECENTLY_REPORTED_PERIOD, CVM_VOTE_DELAY).
const RECENT_DAYS: i64 = 7;

fn cvm_error(e: CommandError<CvmError>) -> ApiError {
    match e {
        CommandError::Rejected(reason) => ApiError::new(match reason {
            // A removed machine is gone for its users: the same answer as GET.
            CvmError::NotFound | CvmError::Removed => error::NOT_FOUND,
            CvmError::OutOfReach => error::OUT_OF_REACH,
            CvmError::AlterationConflict | CvmError::AlreadyExists | CvmError::NotRemoved => error::CONFLICT,
            CvmError::NotDueForCleanup => error::CONFLICT,
            CvmError::Throttled => error::THROTTLED,
            CvmError::ScoreOutOfRange(_) | CvmError::InvalidPosition(_) => error::INVALID_PAYLOAD,
        }),
        CommandError::Conflict { .. } => ApiError::new(error::CONFLICT),
        CommandError::Store(e) => ApiError::unavailable(e),
    }
}

fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// `recentlyReported` counts of a `cvms` document (reports of the last 7 days).
fn recently_reported(doc: &Value, since: DateTime<Utc>) -> RecentlyReported {
    let mut counts = RecentlyReported::default();
    for report in doc["reports"].as_array().into_iter().flatten() {
        if parse_time(&report["createdAt"]).is_some_and(|t| t >= since) {
            match report["type"].as_str() {
                Some("missing") => counts.missing += 1,
                Some("spam") => counts.spam += 1,
                Some("inactive") => counts.inactive += 1,
                Some("inaccessible") => counts.inaccessible += 1,
                _ => {}
            }
        }
    }
    counts
}

/// The caller's most recent vote type on the machine within 7 days.
fn already_voted(doc: &Value, reference: &str, since: DateTime<Utc>) -> Option<VoteKind> {
    doc["votes"]
        .as_array()?
        .iter()
        .filter(|v| v["identity"] == reference && parse_time(&v["createdAt"]).is_some_and(|t| t >= since))
        .max_by_key(|v| parse_time(&v["createdAt"]))
        .and_then(|v| match v["type"].as_str() {
            Some("upvote") => Some(VoteKind::Upvote),
            Some("downvote") => Some(VoteKind::Downvote),
            _ => None,
        })
}

/// CvmProjection (spec 4) of a `cvms` document. `position` overrides the
/// document's position (tiles show the position at computation time).
pub fn projection(doc: &Value, caller: Option<&str>, position: Option<(f64, f64)>) -> CvmView {
    let since = Utc::now() - Duration::days(RECENT_DAYS);
    let (longitude, latitude) = position.unwrap_or((
        doc["longitude"].as_f64().unwrap_or_default(),
        doc["latitude"].as_f64().unwrap_or_default(),
    ));
    let text = |name: &str| doc[name].as_str().unwrap_or_default().to_owned();
    CvmView {
        id: text("aggregateId"),
        longitude,
        latitude,
        score: doc["score"].as_i64().unwrap_or_default(),
        imported: doc["imported"].as_bool().unwrap_or_default(),
        recently_reported: recently_reported(doc, since),
        already_voted: caller.and_then(|r| already_voted(doc, r, since)),
        created_at: text("createdAt"),
        updated_at: text("updatedAt"),
    }
}

/// Entries one import step reserves, decides and appends together: big
/// enough that the per-batch work (reservations, one append, one wait for
/// the tiles) is paid rarely, small enough that a batch finishes well within
/// the reservations' lease time.
pub const IMPORT_BATCH: usize = 1000;

/// The zoom-12 cells of the cells index that the 50 m box around `p` touches.
fn rule_cells(p: Position) -> Vec<(i64, i64)> {
    let mut cells: Vec<(i64, i64)> = same_machine_box(p)
        .iter()
        .map(|c| {
            let t = supercluster::tile(c.latitude, c.longitude, tiles::CELL_ZOOM);
            (t.x, t.y)
        })
        .collect();
    cells.sort_unstable();
    cells.dedup();
    cells
}

/// Machines by zoom-12 cell, for the 50 m rule.
#[derive(Default)]
struct NearbyMachines(std::collections::HashMap<(i64, i64), Vec<(String, Position)>>);

impl NearbyMachines {
    fn add(&mut self, id: &str, p: Position) {
        let t = supercluster::tile(p.latitude, p.longitude, tiles::CELL_ZOOM);
        self.0.entry((t.x, t.y)).or_default().push((id.to_owned(), p));
    }

    /// The nearest machine within 50 m of `p` (the first of equally near ones).
    fn nearest(&self, p: Position) -> Option<String> {
        let mut best: Option<(f64, &str)> = None;
        for cell in rule_cells(p) {
            for (id, q) in self.0.get(&cell).into_iter().flatten() {
                let d = km(p, *q);
                if d <= SAME_MACHINE_KM && best.is_none_or(|(b, _)| d < b) {
                    best = Some((d, id));
                }
            }
        }
        best.map(|(_, id)| id.to_owned())
    }
}

impl Kippenstummel {
    /// KMC filters name the registering identity; machine documents keep
    /// its erasable reference (spec 12.8), so `registeredBy==<identity>`
    /// becomes a test of the reference: one identity lookup per value, not a
    /// join over every machine. An unknown (or erased) identity matches nothing.
    pub async fn with_references(&self, predicate: &Predicate) -> Result<Predicate, ApiError> {
        let mut references = HashMap::new();
        for (path, test) in predicate.tests() {
            if let ("registeredBy", FieldTest::Eq(Scalar::Text(identity))) = (path, test) {
                if !references.contains_key(identity) {
                    let doc = self.idents.get(identity).await.map_err(ApiError::unavailable)?;
                    references.insert(identity.clone(), doc.map(|d| d.reference).unwrap_or_default());
                }
            }
        }
        Ok(predicate.map_tests(&mut |path, test| match (path, test) {
            ("registeredBy", FieldTest::Eq(Scalar::Text(identity))) => {
                FieldTest::Eq(Scalar::Text(references.get(identity).cloned().unwrap_or_default()))
            }
            _ => test.clone(),
        }))
    }

    pub(super) async fn active_in(
        &self,
        store: &Arc<dyn ReadStore>,
        name: &str,
    ) -> Result<Option<Namespace>, ApiError> {
        Ok(store
            .active(name)
            .await
            .map_err(ApiError::unavailable)?
            .map(|a| Namespace::new(name, a.generation)))
    }

    /// Waits until `projection` in `store` has applied every event up to `position`.
    async fn caught_up(&self, store: &Arc<dyn ReadStore>, name: &str, position: u64) -> Result<Namespace, ApiError> {
        let deadline = std::time::Instant::now() + CATCH_UP_TIMEOUT;
        loop {
            if let Some(ns) = self.active_in(store, name).await? {
                if store.checkpoint(&ns).await.map_err(ApiError::unavailable)? >= position {
                    return Ok(ns);
                }
            }
            if std::time::Instant::now() > deadline {
                return Err(ApiError::unavailable(format!(
                    "projection {name} did not catch up to {position}"
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }

    fn metadata(&self, reference: Option<&str>, now: DateTime<Utc>) -> CommandMetadata {
        CommandMetadata::new(error::current_request_id(), reference.map(str::to_owned), now)
    }

    /// The machine nearest to `position` within 50 m, from the tiles
    /// projection's cell index, which carries each machine's position (it
    /// must be caught up: see reservation.rs).
    async fn nearest_machine(&self, ns: &Namespace, position: Position) -> Result<Option<String>, ApiError> {
        Ok(self.machines_near(ns, &[position]).await?.nearest(position))
    }

    async fn throttle_input(
        &self,
        doc: &super::idents::IdentDoc,
        collection: &str,
        now: DateTime<Utc>,
    ) -> Result<ThrottleInput, ApiError> {
        let info = self.info(doc.clone()).await?;
        let items = match self.active_in(&self.documents, cvms::NAME).await? {
            Some(ns) => self
                .documents
                .get_doc(&ns, collection, &doc.reference)
                .await
                .map_err(ApiError::unavailable)?
                .and_then(|d| d["items"].as_array().cloned())
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let times: Vec<DateTime<Utc>> = items.iter().filter_map(|i| parse_time(&i["createdAt"])).collect();
        let day_ago = now - Duration::days(1);
        Ok(ThrottleInput {
            trusted: doc.trusted,
            credibility: info.credibility as f64,
            actions_in_last_day: times.iter().filter(|t| **t >= day_ago).count() as u32,
            last_action_at: times.iter().max().copied(),
        })
    }

    /// `POST /cvms` (9.4.1): a new machine, or an upvote of the one within 50 m.
    pub async fn register(&self, doc: &super::idents::IdentDoc, position: Position) -> Result<(), ApiError> {
        let now = Utc::now();
        let throttle = self.throttle_input(doc, cvms::REGISTRATIONS, now).await?;
        self.locks
            .exclusive(position, || async {
                let head = self.events.head_position().await.map_err(ApiError::unavailable)?;
                let ns = self.caught_up(&self.read_models, tiles::NAME, head).await?;
                let metadata = self.metadata(Some(&doc.reference), now);
                match self.nearest_machine(&ns, position).await? {
                    Some(existing) => {
                        let upvote = CvmCommand::Upvote {
                            voter: doc.reference.clone(),
                            origin: VoteOrigin::NearbyRegistration,
                            now,
                        };
                        self.cvm_commands
                            .execute(&existing, upvote, &metadata)
                            .await
                            .map_err(cvm_error)
                    }
                    None => {
                        let throttled = is_throttled(ThrottledAction::Registration, &throttle, now);
                        let id = uuid::Uuid::new_v4().to_string();
                        let register = CvmCommand::Register {
                            cvm_id: id.clone(),
                            position,
                            creator: doc.reference.clone(),
                            throttled,
                        };
                        self.cvm_commands
                            .execute(&id, register, &metadata)
                            .await
                            .map_err(cvm_error)?;
                        // Wait for the index, so the next holder of these cells sees this machine
                        // even if it runs on an instance whose projector lags.
                        let head = self.events.head_position().await.map_err(ApiError::unavailable)?;
                        self.caught_up(&self.read_models, tiles::NAME, head).await.map(|_| ())
                    }
                }
            })
            .await
    }

    pub async fn vote(&self, doc: &super::idents::IdentDoc, id: &str, up: bool, at: Position) -> Result<(), ApiError> {
        let now = Utc::now();
        let command = if up {
            CvmCommand::Upvote {
                voter: doc.reference.clone(),
                origin: VoteOrigin::At(at),
                now,
            }
        } else {
            CvmCommand::Downvote {
                voter: doc.reference.clone(),
                voter_position: at,
                now,
            }
        };
        self.cvm_commands
            .execute(id, command, &self.metadata(Some(&doc.reference), now))
            .await
            .map_err(cvm_error)
    }

    pub async fn report(
        &self,
        doc: &super::idents::IdentDoc,
        id: &str,
        at: Position,
        report_type: ReportType,
    ) -> Result<(), ApiError> {
        let now = Utc::now();
        let command = CvmCommand::Report {
            reporter: doc.reference.clone(),
            reporter_position: at,
            report_type,
            now,
        };
        self.cvm_commands
            .execute(id, command, &self.metadata(Some(&doc.reference), now))
            .await
            .map_err(cvm_error)
    }

    pub async fn reposition(
        &self,
        doc: &super::idents::IdentDoc,
        id: &str,
        new_position: Position,
        editor_position: Position,
    ) -> Result<(), ApiError> {
        let now = Utc::now();
        let throttle = self.throttle_input(doc, cvms::REPOSITIONINGS, now).await?;
        let throttled = is_throttled(ThrottledAction::Repositioning, &throttle, now);
        let command = CvmCommand::Reposition {
            editor: doc.reference.clone(),
            editor_position,
            new_position,
            throttled,
            now,
        };
        self.cvm_commands
            .execute(id, command, &self.metadata(Some(&doc.reference), now))
            .await
            .map_err(cvm_error)
    }

    /// KMC `DELETE /kmc/cvms/:id`.
    pub async fn remove(&self, id: &str) -> Result<(), ApiError> {
        self.cvm_commands
            .execute(id, CvmCommand::Remove, &self.metadata(None, Utc::now()))
            .await
            .map_err(cvm_error)
    }

    /// One batch of an import (KMC imports, 9.4.7; at most [`IMPORT_BATCH`]
    /// entries, the import job in `kippenstummel::jobs` cuts them): takes
    /// the spatial reservations of all its entries at once (so
    /// registrations racing it still never duplicate a machine), decides the
    /// 50 m rule for the whole batch against the cells index and its own new
    /// machines, appends every new machine in one append, synchronizes the
    /// machines it matched, and waits once for the tiles projection so the
    /// next batch (and any registration) sees them. Returns how many entries
    /// were applied.
    pub async fn import_batch(&self, batch: &[(Position, Option<i32>)]) -> Result<usize, ApiError> {
        let positions: Vec<Position> = batch.iter().map(|(p, _)| *p).collect();
        self.locks
            .exclusive_all(&positions, || async {
                let head = self.events.head_position().await.map_err(ApiError::unavailable)?;
                let ns = self.caught_up(&self.read_models, tiles::NAME, head).await?;
                let mut nearby = self.machines_near(&ns, &positions).await?;
                let now = Utc::now();
                let metadata = self.metadata(None, now);
                let mut creations = Vec::new();
                let mut updates = Vec::new();
                for &(position, score) in batch {
                    match nearby.nearest(position) {
                        Some(existing) => updates.push((existing, position, score)),
                        None => {
                            let id = uuid::Uuid::new_v4().to_string();
                            nearby.add(&id, position);
                            creations.push((
                                id.clone(),
                                CvmCommand::Import {
                                    cvm_id: id,
                                    position,
                                    score,
                                },
                            ));
                        }
                    }
                }
                let created = creations.len();
                let refused = self
                    .cvm_commands
                    .create_many(creations, &metadata)
                    .await
                    .map_err(cvm_error)?;
                for (id, reason) in &refused {
                    tracing::warn!(cvm = %id, %reason, "import entry refused");
                }
                let mut applied = created - refused.len();
                for (existing, position, score) in updates {
                    let sync = CvmCommand::Synchronize {
                        longitude: Some(position.longitude),
                        latitude: Some(position.latitude),
                        score,
                        now,
                    };
                    match self.cvm_commands.execute(&existing, sync, &metadata).await {
                        Ok(()) => applied += 1,
                        Err(e) => tracing::warn!(cvm = %existing, error = %e, "import entry skipped"),
                    }
                }
                let head = self.events.head_position().await.map_err(ApiError::unavailable)?;
                self.caught_up(&self.read_models, tiles::NAME, head).await?;
                Ok(applied)
            })
            .await
    }

    /// The live machines within reach of the 50 m rule of any of
    /// `positions`, from the cells index: every cell read once, all in one
    /// round trip (an import batch of 1,000 spread entries touches
    /// thousands of cells).
    async fn machines_near(&self, ns: &Namespace, positions: &[Position]) -> Result<NearbyMachines, ApiError> {
        let mut cells: Vec<(i64, i64)> = positions.iter().flat_map(|p| rule_cells(*p)).collect();
        cells.sort_unstable();
        cells.dedup();
        let keys: Vec<String> = cells.iter().map(|&(x, y)| tiles::cell_key(x, y)).collect();
        let docs = self
            .read_models
            .get_docs(ns, tiles::CELLS, &keys)
            .await
            .map_err(ApiError::unavailable)?;
        let mut nearby = NearbyMachines::default();
        for doc in docs.into_iter().flatten() {
            let cell: tiles::Cell = serde_json::from_value(doc).map_err(ApiError::internal)?;
            for (id, (longitude, latitude)) in cell.ids.iter().zip(cell.positions) {
                nearby.add(id, Position::new(longitude, latitude));
            }
        }
        Ok(nearby)
    }

    /// The `cvms` document of a live machine.
    pub async fn machine(&self, id: &str) -> Result<Option<Value>, ApiError> {
        let Some(ns) = self.active_in(&self.documents, cvms::NAME).await? else {
            return Ok(None);
        };
        self.documents
            .get_doc(&ns, cvms::CVMS, id)
            .await
            .map_err(ApiError::unavailable)
    }

    /// Machine documents `query` selects, by id, from the store's indexes.
    pub async fn machines_matching(&self, query: &DocQuery<'_>) -> Result<Vec<Value>, ApiError> {
        let Some(ns) = self.active_in(&self.documents, cvms::NAME).await? else {
            return Ok(Vec::new());
        };
        Ok(self
            .documents
            .query_docs(&ns, cvms::machines(), query)
            .await
            .map_err(ApiError::unavailable)?
            .into_iter()
            .map(|(_, doc)| doc)
            .collect())
    }

    /// A page of machines and how many match in all (`/cvms`, `/kmc/cvms`).
    pub async fn machine_page(
        &self,
        predicate: Option<&Predicate>,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<CvmView>, u64), ApiError> {
        let Some(ns) = self.active_in(&self.documents, cvms::NAME).await? else {
            return Ok((Vec::new(), 0));
        };
        let query = DocQuery {
            predicate,
            within: None,
            offset,
            limit,
        };
        // The page and the count are two reads; a projector commit between
        // them makes them disagree (a machine counted but not listed). Such a
        // pair is read again; after three tries the last one is answered.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (docs, total) = tokio::join!(
                self.documents.query_docs(&ns, cvms::machines(), &query),
                self.documents.count_docs(&ns, cvms::machines(), &query),
            );
            let docs = docs.map_err(ApiError::unavailable)?;
            let total = total.map_err(ApiError::unavailable)?;
            let expected = usize::try_from(total)
                .unwrap_or(usize::MAX)
                .saturating_sub(offset)
                .min(limit);
            if docs.len() == expected || attempt == 3 {
                return Ok((docs.iter().map(|(_, d)| projection(d, None, None)).collect(), total));
            }
        }
    }

    /// `/cvms/within`, precomputed path (10.3): the stored tiles of the
    /// viewport. Entries whose machine is gone are skipped (no ghost, no 500: bug 9).
    pub async fn within_tiles(&self, v: &Viewport, caller: Option<&str>) -> Result<Vec<WithinItem>, ApiError> {
        if v.zoom.fract() != 0.0 {
            return Ok(Vec::new()); // no stored tile has a fractional zoom
        }
        // Not finite corners find nothing; the validation bounded the count (MAX_VIEWPORT_TILES).
        let Some(range) = supercluster::TileRange::of_viewport((v.west, v.south), (v.east, v.north), v.zoom as u8)
        else {
            return Ok(Vec::new());
        };
        let Some(ns) = self.active_in(&self.read_models, tiles::NAME).await? else {
            return Ok(Vec::new());
        };
        // Resolved once: every lone machine of the viewport is read from it.
        let machines_ns = self.active_in(&self.documents, cvms::NAME).await?;
        let mut items = Vec::new();
        for tile in range.tiles() {
            let key = tiles::tile_key(tile.z, tile.x, tile.y);
            let Some(doc) = self
                .read_models
                .get_doc(&ns, tiles::TILES, &key)
                .await
                .map_err(ApiError::unavailable)?
            else {
                continue;
            };
            for entry in doc["clusters"].as_array().into_iter().flatten() {
                let (lng, lat) = (
                    entry["longitude"].as_f64().unwrap_or_default(),
                    entry["latitude"].as_f64().unwrap_or_default(),
                );
                match entry["cvm"].as_str() {
                    None => items.push(WithinItem::Cluster(CvmCluster {
                        cluster: true,
                        longitude: lng,
                        latitude: lat,
                        count: entry["count"].as_u64().unwrap_or(1),
                    })),
                    Some(id) => {
                        let machine = match &machines_ns {
                            Some(m) => self
                                .documents
                                .get_doc(m, cvms::CVMS, id)
                                .await
                                .map_err(ApiError::unavailable)?,
                            None => None,
                        };
                        if let Some(machine) = machine {
                            items.push(WithinItem::Machine(projection(&machine, caller, Some((lng, lat)))));
                        }
                    }
                }
            }
        }
        Ok(items)
    }

    /// `/cvms/within`, dynamic path (filter at zoom ≥ 12): cluster the
    /// filtered machines inside the box. The store selects them by its
    /// position and field indexes and hands over positions only; whole
    /// documents are read for the machines the answer shows alone.
    pub async fn within_filtered(
        &self,
        v: &Viewport,
        caller: Option<&str>,
        predicate: &Predicate,
    ) -> Result<Vec<WithinItem>, ApiError> {
        if ![v.west, v.south, v.east, v.north].iter().all(|c| c.is_finite()) {
            return Ok(Vec::new()); // parenthesised corners are NaN and find nothing (19.5)
        }
        let Some(ns) = self.active_in(&self.documents, cvms::NAME).await? else {
            return Ok(Vec::new());
        };
        let query = DocQuery {
            predicate: Some(predicate),
            within: Some(BoundingBox {
                min_lng: v.west,
                min_lat: v.south,
                max_lng: v.east,
                max_lat: v.north,
            }),
            offset: 0,
            limit: usize::MAX,
        };
        let machines = self
            .documents
            .query_positions(&ns, cvms::machines(), &query)
            .await
            .map_err(ApiError::unavailable)?;
        let points = machines.iter().enumerate().map(|(i, (_, lng, lat))| InputPoint {
            id: i,
            lng: *lng,
            lat: *lat,
        });
        // Levels below the requested zoom are never read, and a level depends only on the one
        // above it, so stopping there gives the same clusters for less work.
        let options = ClusterOptions {
            min_zoom: (v.zoom.floor() as u8).min(ClusterOptions::KIPPENSTUMMEL.max_zoom),
            ..ClusterOptions::KIPPENSTUMMEL
        };
        let index = Supercluster::load(options, points);
        let bbox = BBox::new(v.west, v.south, v.east, v.north);
        let found = index.get_clusters(bbox, v.zoom);
        // The lone machines' documents, read in one round trip.
        let alone: Vec<String> = found
            .iter()
            .filter_map(|item| match item {
                ClusterOrPoint::Point(p) => Some(machines[p.id].0.clone()),
                ClusterOrPoint::Cluster(_) => None,
            })
            .collect();
        let mut docs = self
            .documents
            .get_docs(&ns, cvms::CVMS, &alone)
            .await
            .map_err(ApiError::unavailable)?
            .into_iter();
        let mut items = Vec::new();
        for item in found {
            match item {
                ClusterOrPoint::Cluster(c) => items.push(WithinItem::Cluster(CvmCluster {
                    cluster: true,
                    longitude: c.lng,
                    latitude: c.lat,
                    count: u64::from(c.count),
                })),
                // A machine removed since the query was answered is left out.
                ClusterOrPoint::Point(_) => {
                    if let Some(doc) = docs.next().flatten() {
                        items.push(WithinItem::Machine(projection(&doc, caller, None)));
                    }
                }
            }
        }
        Ok(items)
    }
}
