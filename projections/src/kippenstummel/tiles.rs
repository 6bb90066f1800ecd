//! `cvm-tiles`: the clusters of every map tile from zoom 8 to 18 (spec 11.3),
//! which the precomputed path of `/cvms/within` serves (10.3), kept current
//! by the events that add, move or remove machines.
//!
//! - collection `positions`: cvm id → `{longitude, latitude}` of live machines
//! - collection `removed-positions`: the same for removed machines, so a
//!   restore puts the machine back where the aggregate keeps it (the restore
//!   payload's position is informational, spec 9.3)
//! - collection `cells`: `"{x}/{y}"` of a zoom-12 tile → `{ids, positions}`, the live
//!   machines in it (`positions[i]` = `[lng, lat]` of `ids[i]`), a spatial index so
//!   recomputing a tile reads only the cells under it
//! - collection `tiles`: `"{z}/{x}/{y}"` → `{clusters: [{longitude, latitude, cvm, count}]}`,
//!   deleted when the tile has no machines
//!
//! Every tile that contains an old or a new position is recomputed from the
//! live machines only, so a moved or removed machine leaves no ghost behind
//! (bugs 9 and 24). A tile's content depends only on the machines in it (they
//! are clustered in id order), never on the history that put them there, so
//! a replay or any batching yields the same documents.
//!
//! Recomputation is batched: `apply` updates the position and the machine's
//! cell(s) and only marks the affected tiles dirty (in the change set's
//! scratch area); `finish_batch` recomputes each dirty tile once, from the
//! cells as the batch left them. The batch, tiles included, is committed
//! atomically with its checkpoint, so this keeps exactly-once semantics, and
//! a replay of 100,000 imports clusters the shared zoom-8..11 tiles once per
//! batch instead of once per event.
//!
//! Cost per event that moves a machine (register, import, reposition,
//! synchronize with a new position, remove, restore), in store round trips:
//! 1 read of `positions` (+1 of `removed-positions` for a restore) and 1 read
//! of each cell it leaves or enters (usually one); writes of the position and
//! those cells. Cost per batch: one read per zoom-12 cell under the dirty
//! zoom-8 tiles plus a one-cell ring (machines on a tile border belong to both
//! tiles), 18 × 18 = 324 per distinct zoom-8 tile, each read once per batch
//! (cells the batch wrote come from the change set), so there are no
//! per-machine reads; one write and one clustering over the machines in it
//! per dirty tile (11 per moved position, more only for positions exactly on a
//! tile border). Votes, reports and deletion marks cost nothing beyond
//! decoding the event.

use super::{decode, Input};
use crate::supercluster::{
    clusters_for_tile, tile, InputPoint, TileEntry, TileId, DYNAMIC_CLUSTERING_ZOOM_LIMIT, MAX_TILE_ZOOM, MIN_TILE_ZOOM,
};
use crate::{ChangeSet, Projection, ProjectionError, RecordedEvent, StoreError};
use aggregates::kippenstummel::cvm::{CvmEvent, PartialPosition};
use aggregates::kippenstummel::geo::Position;
use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

pub const NAME: &str = "cvm-tiles";
pub const POSITIONS: &str = "positions";
pub const REMOVED_POSITIONS: &str = "removed-positions";
pub const CELLS: &str = "cells";
pub const TILES: &str = "tiles";
/// The zoom of the `cells` index: the zoom from which tiles show lone machines.
pub const CELL_ZOOM: u8 = DYNAMIC_CLUSTERING_ZOOM_LIMIT;

pub struct Tiles;

/// Key of a `tiles` document.
pub fn tile_key(z: u8, x: i64, y: i64) -> String {
    format!("{z}/{x}/{y}")
}

/// Key of a `cells` document: the zoom-12 tile (`x`, `y`).
pub fn cell_key(x: i64, y: i64) -> String {
    format!("{x}/{y}")
}

/// A `cells` document: the live machines of one zoom-12 tile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub ids: Vec<String>,
    /// `[longitude, latitude]` of `ids[i]` at index `i`.
    pub positions: Vec<(f64, f64)>,
}

impl Cell {
    fn insert(&mut self, id: &str, position: Position) {
        self.ids.push(id.to_owned());
        self.positions.push((position.longitude, position.latitude));
    }

    fn remove(&mut self, id: &str) {
        if let Some(i) = self.ids.iter().position(|m| m == id) {
            self.ids.remove(i);
            self.positions.remove(i);
        }
    }

    fn machines(&self) -> impl Iterator<Item = (&str, (f64, f64))> {
        self.ids.iter().map(String::as_str).zip(self.positions.iter().copied())
    }
}

/// A zoom-12 cell's coordinates.
type CellId = (i64, i64);

fn cell_of(position: Position) -> CellId {
    let t = tile(position.latitude, position.longitude, CELL_ZOOM);
    (t.x, t.y)
}

/// The cells that can hold a machine inside `tile`'s box: those under it and
/// the ring around them, since the box includes its borders and a machine on
/// a border sits in the neighbouring cell. (An arithmetic shift floors, so
/// negative rows of positions beyond the Mercator limit work too.)
fn cell_range(tile: TileId) -> (std::ops::RangeInclusive<i64>, std::ops::RangeInclusive<i64>) {
    let (from, to) = if tile.z <= CELL_ZOOM {
        let shift = CELL_ZOOM - tile.z;
        (
            (tile.x << shift, tile.y << shift),
            (((tile.x + 1) << shift) - 1, ((tile.y + 1) << shift) - 1),
        )
    } else {
        let shift = tile.z - CELL_ZOOM;
        ((tile.x >> shift, tile.y >> shift), (tile.x >> shift, tile.y >> shift))
    };
    (from.0 - 1..=to.0 + 1, from.1 - 1..=to.1 + 1)
}

/// Every tile (zoom 8..=18) whose box contains one of `positions`: the
/// position's own tile and, for a position on a border, the neighbour that
/// shares that border (its box includes the border too). Without duplicates.
fn affected_tiles(positions: &[Position]) -> Vec<TileId> {
    let mut tiles = BTreeSet::new();
    for p in positions {
        for z in MIN_TILE_ZOOM..=MAX_TILE_ZOOM {
            let own = tile(p.latitude, p.longitude, z);
            tiles.insert(own);
            for (dx, dy) in [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)] {
                let neighbour = TileId {
                    z,
                    x: own.x + dx,
                    y: own.y + dy,
                };
                if neighbour.bbox().contains(p.longitude, p.latitude) {
                    tiles.insert(neighbour);
                }
            }
        }
    }
    tiles.into_iter().collect()
}

fn decode_doc<T: DeserializeOwned>(collection: &str, key: &str, doc: Value) -> Result<T, String> {
    serde_json::from_value(doc).map_err(|e| format!("stored {collection}/{key}: {e}"))
}

async fn read<T: DeserializeOwned>(
    changes: &ChangeSet<'_>,
    event: &RecordedEvent,
    collection: &str,
    key: &str,
) -> Result<Option<T>, ProjectionError> {
    match changes.get(collection, key).await? {
        Some(doc) => decode_doc(collection, key, doc)
            .map(Some)
            .map_err(|e| ProjectionError::bad_event(event, e)),
        None => Ok(None),
    }
}

fn position_doc(p: Position) -> Value {
    json!({"longitude": p.longitude, "latitude": p.latitude})
}

/// Per-batch scratch state (in [`ChangeSet::scratch`]): the tiles whose
/// machines changed during the batch, recomputed once in `finish_batch`.
#[derive(Default)]
struct DirtyTiles(BTreeSet<TileId>);

/// A set of cells, each read from the change set (so including the batch's
/// own writes) once.
struct Cells {
    cells: BTreeMap<CellId, Cell>,
    dirty: BTreeSet<CellId>,
}

impl Cells {
    /// Reads the cells `ids`; `bad` turns an undecodable stored cell into the error to report.
    async fn load(
        changes: &ChangeSet<'_>,
        ids: BTreeSet<CellId>,
        bad: impl Fn(String) -> ProjectionError,
    ) -> Result<Self, ProjectionError> {
        let mut cells = BTreeMap::new();
        for (x, y) in ids {
            let key = cell_key(x, y);
            if let Some(doc) = changes.get(CELLS, &key).await? {
                let cell: Cell = decode_doc(CELLS, &key, doc).map_err(&bad)?;
                cells.insert((x, y), cell);
            }
        }
        Ok(Self {
            cells,
            dirty: BTreeSet::new(),
        })
    }

    fn cell_mut(&mut self, id: CellId) -> &mut Cell {
        self.dirty.insert(id);
        self.cells.entry(id).or_default()
    }

    /// Machines whose position lies in `tile`'s box, in id order.
    fn machines_in(&self, tile: TileId) -> Vec<InputPoint<&str>> {
        let bbox = tile.bbox();
        let (xs, ys) = cell_range(tile);
        let mut machines: Vec<InputPoint<&str>> = xs
            .flat_map(|x| ys.clone().map(move |y| (x, y)))
            .filter_map(|id| self.cells.get(&id))
            .flat_map(Cell::machines)
            .filter(|(_, (lng, lat))| bbox.contains(*lng, *lat))
            .map(|(id, (lng, lat))| InputPoint { id, lng, lat })
            .collect();
        machines.sort_by(|a, b| a.id.cmp(b.id));
        machines
    }

    fn write_back(&self, changes: &mut ChangeSet<'_>) {
        for id in &self.dirty {
            let key = cell_key(id.0, id.1);
            match self.cells.get(id) {
                Some(cell) if !cell.ids.is_empty() => {
                    changes.put(CELLS, &key, serde_json::to_value(cell).expect("cells serialize"))
                }
                _ => changes.delete(CELLS, &key),
            }
        }
    }
}

fn entry_doc(entry: TileEntry<&str>) -> Value {
    match entry {
        TileEntry::Cluster { lng, lat, count } => {
            json!({"longitude": lng, "latitude": lat, "cvm": null, "count": count})
        }
        TileEntry::Machine { id, lng, lat } => json!({"longitude": lng, "latitude": lat, "cvm": id, "count": null}),
    }
}

#[cfg(test)]
thread_local! {
    /// How many tiles this thread recomputed (tests run each on its own thread).
    static RECOMPUTED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn recompute(changes: &mut ChangeSet<'_>, cells: &Cells, tile: TileId) {
    #[cfg(test)]
    RECOMPUTED.with(|n| n.set(n.get() + 1));
    let key = tile_key(tile.z, tile.x, tile.y);
    let machines = cells.machines_in(tile);
    if machines.is_empty() {
        changes.delete(TILES, &key);
        return;
    }
    let clusters: Vec<Value> = clusters_for_tile(tile, machines).into_iter().map(entry_doc).collect();
    changes.put(TILES, &key, json!({ "clusters": clusters }));
}

/// Moves machine `id` from `from` to `to` (`None`: not on the map) in the
/// position and the cells, and marks every tile either position is in for
/// recomputation at the end of the batch.
async fn relocate(
    changes: &mut ChangeSet<'_>,
    event: &RecordedEvent,
    id: &str,
    from: Option<Position>,
    to: Option<Position>,
) -> Result<(), ProjectionError> {
    if from == to {
        return Ok(()); // e.g. a synchronization that confirmed the position
    }
    match to {
        Some(p) => changes.put(POSITIONS, id, position_doc(p)),
        None => changes.delete(POSITIONS, id),
    }
    let moved: Vec<Position> = from.into_iter().chain(to).collect();
    let own: BTreeSet<CellId> = moved.iter().map(|p| cell_of(*p)).collect();
    let mut cells = Cells::load(changes, own, |e| ProjectionError::bad_event(event, e)).await?;
    if let Some(p) = from {
        cells.cell_mut(cell_of(p)).remove(id);
    }
    if let Some(p) = to {
        cells.cell_mut(cell_of(p)).insert(id, p);
    }
    cells.write_back(changes);
    changes.scratch::<DirtyTiles>().0.extend(affected_tiles(&moved));
    Ok(())
}

/// Recomputes every tile marked during the batch, once, from the cells as
/// the batch left them: reads each cell under (or around) a marked tile once.
async fn recompute_dirty(changes: &mut ChangeSet<'_>) -> Result<(), ProjectionError> {
    let dirty = std::mem::take(&mut changes.scratch::<DirtyTiles>().0);
    if dirty.is_empty() {
        return Ok(());
    }
    let mut wanted: BTreeSet<CellId> = BTreeSet::new();
    for t in &dirty {
        let (xs, ys) = cell_range(*t);
        wanted.extend(xs.flat_map(|x| ys.clone().map(move |y| (x, y))));
    }
    let cells = Cells::load(changes, wanted, |e| ProjectionError::Store(StoreError::Other(e))).await?;
    for t in dirty {
        recompute(changes, &cells, t);
    }
    Ok(())
}

/// Where an event puts a machine.
enum Target {
    At(Position),
    /// Some parts of the position replaced (`cvm-synchronized`).
    Partly(PartialPosition),
    /// Off the map (`cvm-removed`).
    Off,
    /// Back where it was before its removal (`cvm-restored`); the payload's
    /// position only if that is unknown.
    Back(Position),
}

/// The machine an event moves and where to; `None` for events that leave the map as it is.
fn target(event: &CvmEvent) -> Option<(&str, Target)> {
    let (id, target) = match event {
        CvmEvent::Registered(e) => (&e.cvm_id, Target::At(e.position)),
        CvmEvent::Imported(e) => (&e.cvm_id, Target::At(e.position)),
        CvmEvent::Repositioned(e) => (&e.cvm_id, Target::At(e.repositioned_position)),
        CvmEvent::Synchronized(e) => (&e.cvm_id, Target::Partly(e.position)),
        CvmEvent::Removed(e) => (&e.cvm_id, Target::Off),
        CvmEvent::Restored(e) => (&e.cvm_id, Target::Back(e.position)),
        CvmEvent::Upvoted(_)
        | CvmEvent::Downvoted(_)
        | CvmEvent::Reported(_)
        | CvmEvent::DeletionMarked(_)
        | CvmEvent::DeletionUnmarked(_) => return None,
    };
    Some((id.as_str(), target))
}

/// The machine's new position, given its current one (`from`), keeping the
/// position of a removed machine aside for its restore.
async fn destination(
    changes: &mut ChangeSet<'_>,
    event: &RecordedEvent,
    id: &str,
    from: Option<Position>,
    target: Target,
) -> Result<Option<Position>, ProjectionError> {
    Ok(match target {
        Target::At(p) => Some(p),
        // Only a machine on the map is synchronized (the aggregate refuses removed ones).
        Target::Partly(parts) => from.map(|current| parts.over(current)),
        Target::Off => {
            if let Some(p) = from {
                changes.put(REMOVED_POSITIONS, id, position_doc(p));
            }
            None
        }
        Target::Back(fallback) => {
            let kept: Option<Position> = read(changes, event, REMOVED_POSITIONS, id).await?;
            changes.delete(REMOVED_POSITIONS, id);
            Some(from.or(kept).unwrap_or(fallback))
        }
    })
}

#[async_trait]
impl Projection for Tiles {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        1
    }

    async fn apply(&self, event: &RecordedEvent, changes: &mut ChangeSet<'_>) -> Result<(), ProjectionError> {
        let Input::Cvm(cvm_event) = decode(event)? else {
            return Ok(()); // ident events and other aggregates do not touch the map
        };
        let Some((id, target)) = target(&cvm_event) else {
            return Ok(());
        };
        let from: Option<Position> = read(changes, event, POSITIONS, id).await?;
        let to = destination(changes, event, id, from, target).await?;
        relocate(changes, event, id, from, to).await
    }

    async fn finish_batch(&self, changes: &mut ChangeSet<'_>) -> Result<(), ProjectionError> {
        recompute_dirty(changes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supercluster::{ClusterOptions, ClusterOrPoint, Supercluster};
    use crate::testing::{run, EventLog, MemoryStore};
    use crate::Namespace;
    use aggregates::kippenstummel::cvm::{
        CvmDeletionMarked, CvmImported, CvmRegistered, CvmRemoved, CvmRepositioned, CvmRestored, CvmSynchronized,
        CvmVoted,
    };
    use chrono::{TimeZone, Utc};
    use std::collections::HashMap;

    const A: &str = "cvm-a";
    const B: &str = "cvm-b";
    const KARLSRUHE: Position = Position {
        longitude: 8.40395,
        latitude: 49.0092,
    };

    fn ns() -> Namespace {
        Namespace::new(NAME, 1)
    }

    fn log() -> EventLog {
        EventLog::starting(Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).unwrap())
    }

    fn registered(id: &str, position: Position) -> CvmEvent {
        CvmEvent::Registered(CvmRegistered {
            cvm_id: id.into(),
            position,
            creator_identity: "ref-1".into(),
        })
    }

    fn repositioned(id: &str, from: Position, to: Position) -> CvmEvent {
        CvmEvent::Repositioned(CvmRepositioned {
            cvm_id: id.into(),
            editor_identity: "ref-2".into(),
            former_position: from,
            repositioned_position: to,
            repositioned_at: None,
        })
    }

    fn removed(id: &str, position: Position) -> CvmEvent {
        CvmEvent::Removed(CvmRemoved {
            cvm_id: id.into(),
            position,
        })
    }

    async fn project(log: &EventLog, batch: usize) -> MemoryStore {
        let store = MemoryStore::default();
        run(&Tiles, &store, &ns(), log.events(), batch)
            .await
            .expect("projection applies");
        store
    }

    fn collection(store: &MemoryStore, name: &str) -> BTreeMap<String, Value> {
        store.dump(&ns()).remove(name).unwrap_or_default()
    }

    fn tile_doc(store: &MemoryStore, t: TileId) -> Option<Value> {
        collection(store, TILES).remove(&tile_key(t.z, t.x, t.y))
    }

    fn at(p: Position, z: u8) -> TileId {
        tile(p.latitude, p.longitude, z)
    }

    /// Every (tile key, entry) that names machine `id`.
    fn entries_of(store: &MemoryStore, id: &str) -> Vec<(String, Value)> {
        collection(store, TILES)
            .into_iter()
            .flat_map(|(key, doc)| {
                let clusters = doc["clusters"].as_array().cloned().unwrap_or_default();
                clusters.into_iter().map(move |c| (key.clone(), c))
            })
            .filter(|(_, c)| c["cvm"] == json!(id))
            .collect()
    }

    #[tokio::test]
    async fn a_registration_shows_as_a_cluster_of_one_below_zoom_12_and_as_itself_from_12() {
        let mut log = log();
        log.cvm(registered(A, KARLSRUHE));
        let store = project(&log, 1).await;

        let disguised = json!({"clusters": [{"longitude": 8.40395, "latitude": 49.0092, "cvm": null, "count": 1}]});
        let itself = json!({"clusters": [{"longitude": 8.40395, "latitude": 49.0092, "cvm": A, "count": null}]});
        // Compared as text so the key order counts too.
        assert_eq!(
            tile_doc(&store, at(KARLSRUHE, 8)).unwrap().to_string(),
            disguised.to_string()
        );
        assert_eq!(tile_doc(&store, at(KARLSRUHE, 11)).unwrap(), disguised);
        assert_eq!(
            tile_doc(&store, at(KARLSRUHE, 12)).unwrap().to_string(),
            itself.to_string()
        );
        assert_eq!(tile_doc(&store, at(KARLSRUHE, 18)).unwrap(), itself);
        assert_eq!(collection(&store, TILES).len(), 11, "one tile per zoom 8..=18");
        assert_eq!(
            collection(&store, POSITIONS),
            BTreeMap::from([(A.to_owned(), json!({"longitude": 8.40395, "latitude": 49.0092}))])
        );
        let cell = at(KARLSRUHE, CELL_ZOOM);
        assert_eq!(
            collection(&store, CELLS),
            BTreeMap::from([(
                cell_key(cell.x, cell.y),
                json!({"ids": [A], "positions": [[8.40395, 49.0092]]})
            )])
        );
        assert_eq!(tile_key(12, 2143, 1406), "12/2143/1406");
    }

    #[tokio::test]
    async fn a_machine_moved_across_a_tile_border_leaves_no_ghost() {
        // 0.0003° east crosses from one zoom-12 cell (and all finer tiles) into the next.
        let border = TileId {
            z: 12,
            x: 2143,
            y: 1406,
        }
        .bbox()
        .east;
        let west = Position::new(border - 0.00015, 49.0092);
        let east = Position::new(border + 0.00015, 49.0092);
        assert_ne!(at(west, 12), at(east, 12));
        let mut log = log();
        log.cvm(registered(A, west))
            .cvm(registered(B, Position::new(west.longitude - 0.002, 49.0092)))
            .cvm(repositioned(A, west, east));
        let store = project(&log, 1).await;

        let old = tile_doc(&store, at(west, 12)).expect("B keeps the old tile");
        assert_eq!(old["clusters"].as_array().unwrap().len(), 1);
        assert_eq!(old["clusters"][0]["cvm"], json!(B));
        assert_eq!(
            tile_doc(&store, at(west, 18)),
            None,
            "old zoom-18 tile is emptied (bug 9)"
        );
        let seen: Vec<Value> = entries_of(&store, A).into_iter().map(|(_, c)| c).collect();
        assert_eq!(seen.len(), 7, "zooms 12..=18 show A once each");
        assert!(seen.iter().all(|c| c["longitude"] == json!(east.longitude)));
        let cells = collection(&store, CELLS);
        let (old_cell, new_cell) = (at(west, 12), at(east, 12));
        assert_eq!(cells[&cell_key(old_cell.x, old_cell.y)]["ids"], json!([B]));
        assert_eq!(cells[&cell_key(new_cell.x, new_cell.y)]["ids"], json!([A]));
    }

    #[tokio::test]
    async fn a_synchronization_that_moves_a_machine_recomputes_its_old_tiles() {
        let moved = Position::new(8.5, 49.0092);
        let mut log = log();
        log.cvm(CvmEvent::Imported(CvmImported {
            cvm_id: A.into(),
            position: KARLSRUHE,
            initial_score: None,
        }))
        .cvm(CvmEvent::Synchronized(CvmSynchronized {
            cvm_id: A.into(),
            position: PartialPosition {
                longitude: Some(8.5),
                latitude: None,
            },
            forced_score: None,
        }));
        let store = project(&log, 1).await;
        assert_eq!(tile_doc(&store, at(KARLSRUHE, 12)), None, "no stale tile (bug 24)");
        assert_eq!(tile_doc(&store, at(moved, 12)).unwrap()["clusters"][0]["cvm"], json!(A));
        assert_eq!(
            collection(&store, POSITIONS)[A],
            json!({"longitude": 8.5, "latitude": 49.0092})
        );
    }

    #[tokio::test]
    async fn removal_deletes_emptied_tiles_and_restore_puts_the_machine_back_where_it_was() {
        let mut log = log();
        log.cvm(registered(A, KARLSRUHE));
        let before = project(&log, 1).await;
        log.cvm(removed(A, KARLSRUHE));
        let gone = project(&log, 1).await;
        assert!(
            collection(&gone, TILES).is_empty(),
            "every emptied tile document is deleted"
        );
        assert!(collection(&gone, CELLS).is_empty());
        assert!(collection(&gone, POSITIONS).is_empty());

        // The payload's position is informational (spec 9.3).
        log.cvm(CvmEvent::Restored(CvmRestored {
            cvm_id: A.into(),
            position: Position::new(8.5, 49.1),
        }));
        let back = project(&log, 1).await;
        for name in [TILES, CELLS, POSITIONS] {
            assert_eq!(collection(&back, name), collection(&before, name), "{name}");
        }
        assert!(collection(&back, REMOVED_POSITIONS).is_empty());
    }

    #[tokio::test]
    async fn votes_reports_and_marks_do_not_touch_the_map() {
        let mut log = log();
        log.cvm(registered(A, KARLSRUHE));
        let store = project(&log, 1).await;
        let before = store.dump(&ns());
        store.take_reads();
        let mut more = self::log();
        more.cvm(registered(B, KARLSRUHE)); // position 1, skipped below
        more.cvm(CvmEvent::Upvoted(CvmVoted {
            cvm_id: A.into(),
            voter_identity: "ref-2".into(),
            impact: 1,
            voted_at: None,
        }))
        .cvm(CvmEvent::DeletionMarked(CvmDeletionMarked {
            cvm_id: A.into(),
            marked_at: Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap(),
        }))
        .ident_erased("ref-1");
        let namespace = ns();
        let mut changes = ChangeSet::new(&store, &namespace);
        for event in &more.events()[1..] {
            Tiles.apply(event, &mut changes).await.unwrap();
        }
        assert!(changes.is_empty());
        assert!(store.take_reads().is_empty(), "not even a read");
        assert_eq!(store.dump(&ns()), before);
    }

    #[tokio::test]
    async fn a_machine_on_a_tile_border_is_in_both_tiles_and_leaves_both() {
        // Exactly on the border between zoom-12 columns 2142 and 2143 (and their finer tiles).
        let border = Position::new(8.349609375, 49.0092);
        let (east, west) = (
            at(border, 12),
            TileId {
                x: at(border, 12).x - 1,
                ..at(border, 12)
            },
        );
        assert_eq!(east.x, 2143);
        assert_eq!(west.bbox().east, border.longitude);
        let mut log = log();
        log.cvm(registered(A, border));
        let on = project(&log, 1).await;
        assert_eq!(tile_doc(&on, east).unwrap()["clusters"][0]["cvm"], json!(A));
        assert_eq!(tile_doc(&on, west).unwrap()["clusters"][0]["cvm"], json!(A));
        log.cvm(repositioned(A, border, Position::new(8.36, 49.0092)));
        let off = project(&log, 1).await;
        assert_eq!(tile_doc(&off, west), None);
        assert!(entries_of(&off, A).iter().all(|(_, c)| c["longitude"] == json!(8.36)));
    }

    /// A deterministic scatter of machines around Karlsruhe: dense enough to cluster.
    fn scatter(n: usize) -> Vec<(String, Position)> {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|i| {
                let lng = 8.30 + 0.25 * next();
                let lat = 48.95 + 0.12 * next();
                (format!("m-{i:04}"), Position::new(lng, lat))
            })
            .collect()
    }

    /// Spec 11.3 step 2, written out without the projection's code: select by box, cluster in
    /// id order, map clusters and points by the zoom rule.
    fn expected_tile(t: TileId, live: &HashMap<String, Position>) -> Option<Value> {
        let bbox = t.bbox();
        let mut points: Vec<InputPoint<String>> = live
            .iter()
            .filter(|(_, p)| bbox.contains(p.longitude, p.latitude))
            .map(|(id, p)| InputPoint {
                id: id.clone(),
                lng: p.longitude,
                lat: p.latitude,
            })
            .collect();
        if points.is_empty() {
            return None;
        }
        points.sort_by(|a, b| a.id.cmp(&b.id));
        let index = Supercluster::load(ClusterOptions::KIPPENSTUMMEL, points);
        let clusters: Vec<Value> = index
            .get_clusters(bbox, f64::from(t.z))
            .into_iter()
            .map(|item| match item {
                ClusterOrPoint::Cluster(c) => {
                    json!({"longitude": c.lng, "latitude": c.lat, "cvm": null, "count": c.count})
                }
                ClusterOrPoint::Point(p) if t.z < 12 => {
                    json!({"longitude": p.lng, "latitude": p.lat, "cvm": null, "count": 1})
                }
                ClusterOrPoint::Point(p) => json!({"longitude": p.lng, "latitude": p.lat, "cvm": p.id, "count": null}),
            })
            .collect();
        Some(json!({ "clusters": clusters }))
    }

    fn parse_tile_key(key: &str) -> TileId {
        let parts: Vec<i64> = key.split('/').map(|p| p.parse().unwrap()).collect();
        TileId {
            z: parts[0] as u8,
            x: parts[1],
            y: parts[2],
        }
    }

    /// Registers the scatter, then moves every 7th machine and removes every 11th.
    fn busy_map() -> (EventLog, HashMap<String, Position>) {
        let machines = scatter(150);
        let mut live: HashMap<String, Position> = HashMap::new();
        let mut log = log();
        for (id, p) in &machines {
            log.cvm(registered(id, *p));
            live.insert(id.clone(), *p);
        }
        for (id, p) in machines.iter().step_by(7) {
            let to = Position::new(p.longitude + 0.01, p.latitude - 0.004);
            log.cvm(repositioned(id, *p, to));
            live.insert(id.clone(), to);
        }
        for (id, _) in machines.iter().skip(3).step_by(11) {
            log.cvm(removed(id, live[id]));
            live.remove(id);
        }
        (log, live)
    }

    #[tokio::test]
    async fn tiles_hold_exactly_the_clusters_supercluster_computes_over_the_live_machines() {
        let (log, live) = busy_map();
        let store = project(&log, 16).await;
        let stored = collection(&store, TILES);

        let mut wanted: BTreeSet<String> = BTreeSet::new();
        for p in live.values() {
            for z in MIN_TILE_ZOOM..=MAX_TILE_ZOOM {
                let t = at(*p, z);
                wanted.insert(tile_key(t.z, t.x, t.y));
            }
        }
        for key in &wanted {
            assert!(stored.contains_key(key), "tile {key} of a live machine is missing");
        }
        let mut real_clusters = 0;
        for (key, doc) in &stored {
            let expected = expected_tile(parse_tile_key(key), &live);
            assert_eq!(Some(doc), expected.as_ref(), "tile {key}");
            real_clusters += doc["clusters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["count"].as_u64().is_some_and(|n| n > 1))
                .count();
        }
        assert!(real_clusters > 10, "the scatter must form clusters: {real_clusters}");
        assert_eq!(collection(&store, POSITIONS).len(), live.len());
        let indexed: usize = collection(&store, CELLS)
            .values()
            .map(|c| c["ids"].as_array().unwrap().len())
            .sum();
        assert_eq!(indexed, live.len());
    }

    #[tokio::test]
    async fn a_replay_gives_identical_documents_whatever_the_batching() {
        let (log, _) = busy_map();
        let once = project(&log, 16).await.dump(&ns());
        assert_eq!(project(&log, 16).await.dump(&ns()), once);
        assert_eq!(project(&log, 1).await.dump(&ns()), once);
        assert_eq!(project(&log, log.events().len()).await.dump(&ns()), once);
    }

    fn recomputed() -> usize {
        RECOMPUTED.with(|n| n.replace(0))
    }

    #[tokio::test]
    async fn a_batch_recomputes_each_dirty_tile_once_and_reads_each_document_once() {
        const N: usize = 120;
        let machines = scatter(N);
        let mut log = log();
        for (id, p) in &machines {
            log.cvm(registered(id, *p));
        }
        // Every third machine moves a little and every fifth is removed, in the same batch.
        for (id, p) in machines.iter().step_by(3) {
            log.cvm(repositioned(id, *p, Position::new(p.longitude + 0.003, p.latitude)));
        }
        for (id, p) in machines.iter().step_by(5) {
            log.cvm(removed(id, *p));
        }
        let events = log.events().len();
        let touched: BTreeSet<TileId> = machines
            .iter()
            .enumerate()
            .flat_map(|(i, (_, p))| match i % 3 {
                0 => affected_tiles(&[*p, Position::new(p.longitude + 0.003, p.latitude)]),
                _ => affected_tiles(&[*p]),
            })
            .collect();
        let zoom8: BTreeSet<TileId> = touched.iter().filter(|t| t.z == MIN_TILE_ZOOM).copied().collect();

        let store = MemoryStore::default();
        recomputed();
        run(&Tiles, &store, &ns(), log.events(), events).await.unwrap();
        assert_eq!(recomputed(), touched.len(), "each touched tile once");
        let reads = store.take_reads();
        let distinct: BTreeSet<&(String, String)> = reads.iter().collect();
        assert_eq!(distinct.len(), reads.len(), "no document read twice in the batch");
        let cell_reads = reads.iter().filter(|(c, _)| c == CELLS).count();
        assert!(
            cell_reads <= zoom8.len() * 18 * 18,
            "{cell_reads} cell reads for {} zoom-8 tiles",
            zoom8.len()
        );

        // One event per batch clusters the shared coarse tiles again and again.
        let single = MemoryStore::default();
        run(&Tiles, &single, &ns(), log.events(), 1).await.unwrap();
        let per_event = recomputed();
        assert!(per_event >= 11 * N, "{per_event} recomputations one event at a time");
        assert!(single.take_reads().len() > 10 * reads.len());
        assert_eq!(single.dump(&ns()), store.dump(&ns()), "same documents");
    }

    #[tokio::test]
    async fn apply_alone_marks_tiles_and_finish_batch_writes_them() {
        let store = MemoryStore::default();
        let namespace = ns();
        let mut log = log();
        log.cvm(registered(A, KARLSRUHE)).cvm(registered(B, KARLSRUHE));
        let mut changes = ChangeSet::new(&store, &namespace);
        for event in log.events() {
            Tiles.apply(event, &mut changes).await.unwrap();
        }
        assert_eq!(changes.scratch::<DirtyTiles>().0.len(), 11);
        let pending = |changes: ChangeSet<'_>| -> BTreeSet<String> {
            changes
                .into_changes()
                .into_iter()
                .filter_map(|c| match c {
                    crate::Change::PutDoc { collection, .. } | crate::Change::DeleteDoc { collection, .. } => {
                        Some(collection)
                    }
                    _ => None,
                })
                .collect()
        };
        assert!(!pending(changes).contains(TILES), "apply writes no tile");
        let mut changes = ChangeSet::new(&store, &namespace);
        for event in log.events() {
            Tiles.apply(event, &mut changes).await.unwrap();
        }
        recomputed();
        Tiles.finish_batch(&mut changes).await.unwrap();
        assert_eq!(recomputed(), 11);
        assert!(changes.scratch::<DirtyTiles>().0.is_empty(), "the marks are consumed");
        assert!(pending(changes).contains(TILES));
    }

    #[tokio::test]
    async fn each_document_is_read_at_most_once_per_event() {
        let (log, _) = busy_map();
        let store = MemoryStore::default();
        let mut largest = 0;
        for event in log.events() {
            run(&Tiles, &store, &ns(), std::slice::from_ref(event), 1)
                .await
                .unwrap();
            let reads = store.take_reads();
            let distinct: BTreeSet<&(String, String)> = reads.iter().collect();
            assert_eq!(
                distinct.len(),
                reads.len(),
                "event {}: a document read twice",
                event.position
            );
            assert!(reads
                .iter()
                .all(|(c, _)| c == POSITIONS || c == CELLS || c == REMOVED_POSITIONS));
            largest = largest.max(reads.len());
        }
        // 1 position + 18 × 18 cells for one zoom-8 tile, twice for a move between two.
        assert!(largest <= 1 + 2 * 18 * 18, "{largest} reads");
    }
}
