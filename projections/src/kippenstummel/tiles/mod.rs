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
//! Live batches (`map`, `compute`): `apply` moves the machine in the batch's
//! map state (its position and cells, each document read once per batch)
//! and marks the tiles either position is in as dirty; `finish_batch` writes
//! the changed positions and cells and recomputes each dirty tile once, from
//! the cells as the batch left them (the cells under the dirty tiles read in
//! one round trip). The batch, tiles included, is committed atomically with
//! its checkpoint, so this keeps exactly-once semantics.
//!
//! Cost per live event that moves a machine (register, import, reposition,
//! synchronize with a new position, remove, restore): 1 read of `positions`
//! (+1 of `removed-positions` for a restore) and 1 read of each cell it
//! leaves or enters, unless the batch read them already. Cost per batch: one
//! bulk read of the zoom-12 cells under the dirty tiles plus a one-cell ring
//! (machines on a tile border belong to both tiles), at most 18 × 18 = 324
//! per distinct zoom-8 tile; one write and one clustering over the machines
//! in it per dirty tile (11 per moved position, more only for positions
//! exactly on a tile border). The zoom-8..11 tiles hold many machines, so a
//! batch's cost grows with the machines around the ones it moves, not with
//! its events: bigger batches are cheaper per event. Votes, reports and
//! deletion marks cost nothing beyond decoding the event.
//!
//! Rebuilds (`rebuild`) keep the map in memory across all their batches and
//! write nothing until the log is applied; then every tile is clustered
//! once and written with the positions and cells, in rounds of bounded size.

mod cells;
mod compute;
mod map;
mod rebuild;

pub use cells::Cell;

use super::{decode, Input};
use crate::supercluster::DYNAMIC_CLUSTERING_ZOOM_LIMIT;
use crate::{ChangeSet, Projection, ProjectionError, RecordedEvent};
use aggregates::kippenstummel::cvm::{CvmEvent, PartialPosition};
use aggregates::kippenstummel::geo::Position;
use async_trait::async_trait;
use map::MapState;
use rebuild::Rebuild;

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

/// Moves the machine as the event says, in `map`.
async fn apply_move(
    map: &mut MapState,
    changes: &ChangeSet<'_>,
    event: &RecordedEvent,
    id: &str,
    target: Target,
) -> Result<(), ProjectionError> {
    let from = map.position(changes, event, id).await?;
    let to = match target {
        Target::At(p) => Some(p),
        // Only a machine on the map is synchronized (the aggregate refuses removed ones).
        Target::Partly(parts) => from.map(|current| parts.over(current)),
        Target::Off => {
            if let Some(p) = from {
                map.set_removed(id, Some(p));
            }
            None
        }
        Target::Back(fallback) => {
            let kept = map.take_removed(changes, event, id).await?;
            Some(from.or(kept).unwrap_or(fallback))
        }
    };
    map.relocate(changes, event, id, from, to).await
}

/// The map state events are applied to: the rebuild's, or this batch's.
/// Taken out of the change set while in use (it reads through the change
/// set) and put back with [`put_map`].
fn take_map(changes: &mut ChangeSet<'_>) -> MapState {
    match changes.rebuild_scratch::<Rebuild>() {
        Some(rebuild) => std::mem::replace(&mut rebuild.map, MapState::for_rebuild()),
        None => std::mem::take(changes.scratch::<MapState>()),
    }
}

fn put_map(changes: &mut ChangeSet<'_>, map: MapState) {
    match changes.rebuild_scratch::<Rebuild>() {
        Some(rebuild) => rebuild.map = map,
        None => *changes.scratch::<MapState>() = map,
    }
}

#[async_trait]
impl Projection for Tiles {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        1
    }

    /// A live batch re-clusters the coarse tiles around the machines it moves
    /// whether it moves one or thousands: under a bulk import, batches of up
    /// to 10 × `batch_size` make that cost per event ten times smaller.
    fn catch_up_growth(&self) -> usize {
        10
    }

    async fn apply(&self, event: &RecordedEvent, changes: &mut ChangeSet<'_>) -> Result<(), ProjectionError> {
        let Input::Cvm(cvm_event) = decode(event)? else {
            return Ok(()); // ident events and other aggregates do not touch the map
        };
        let Some((id, target)) = target(&cvm_event) else {
            return Ok(());
        };
        let mut map = take_map(changes);
        let applied = apply_move(&mut map, changes, event, id, target).await;
        put_map(changes, map);
        applied
    }

    async fn finish_batch(&self, changes: &mut ChangeSet<'_>) -> Result<(), ProjectionError> {
        if changes.is_rebuild() {
            return Ok(()); // the rebuild's map is written by finish_rebuild
        }
        let mut map = std::mem::take(changes.scratch::<MapState>());
        map.write_changes(changes);
        compute::recompute_dirty(&mut map, changes).await
    }

    async fn finish_rebuild(&self, changes: &mut ChangeSet<'_>) -> Result<bool, ProjectionError> {
        let Some(rebuild) = changes.rebuild_scratch::<Rebuild>() else {
            return Ok(false);
        };
        let mut rebuild = std::mem::take(rebuild);
        let more = rebuild.round(changes);
        *changes.rebuild_scratch::<Rebuild>().expect("inside a rebuild") = rebuild;
        Ok(more)
    }
}

#[cfg(test)]
mod tests {
    use super::compute::COMPUTED;
    use super::map::affected_tiles;
    use super::*;
    use crate::supercluster::{
        tile, ClusterOptions, ClusterOrPoint, InputPoint, Supercluster, TileId, MAX_TILE_ZOOM, MIN_TILE_ZOOM,
    };
    use crate::testing::{rebuild, run, EventLog, MemoryStore};
    use crate::Namespace;
    use aggregates::kippenstummel::cvm::{
        CvmDeletionMarked, CvmImported, CvmRegistered, CvmRemoved, CvmRepositioned, CvmRestored, CvmSynchronized,
        CvmVoted,
    };
    use chrono::{TimeZone, Utc};
    use serde_json::{json, Value};
    use std::collections::{BTreeMap, BTreeSet, HashMap};

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

    /// The busy map, plus machines on and across tile borders, a restore and a synchronization.
    fn eventful_log() -> EventLog {
        let (mut log, live) = busy_map();
        let border = Position::new(8.349609375, 49.0092);
        let corner = TileId {
            z: 12,
            x: 2143,
            y: 1406,
        }
        .bbox();
        let on_corner = Position::new(corner.west, corner.north);
        log.cvm(registered(A, border))
            .cvm(registered(B, on_corner))
            .cvm(repositioned(A, border, Position::new(8.36, 49.0092)))
            .cvm(removed(B, on_corner))
            .cvm(CvmEvent::Restored(CvmRestored {
                cvm_id: B.into(),
                position: Position::new(8.5, 49.1),
            }));
        let (id, p) = live.iter().next().map(|(id, p)| (id.clone(), *p)).unwrap();
        log.cvm(CvmEvent::Synchronized(CvmSynchronized {
            cvm_id: id,
            position: PartialPosition {
                longitude: Some(p.longitude + 0.02),
                latitude: None,
            },
            forced_score: None,
        }));
        log
    }

    #[tokio::test]
    async fn a_rebuild_writes_the_documents_live_batches_write() {
        let log = eventful_log();
        let live = project(&log, 16).await.dump(&ns());
        assert!(live[TILES].len() > 100 && !live[REMOVED_POSITIONS].is_empty());
        for batch in [1, 16, log.events().len()] {
            let store = MemoryStore::default();
            let rounds = rebuild(&Tiles, &store, &ns(), log.events(), batch).await.unwrap();
            assert!(rounds > 3, "small test rounds: {rounds}");
            assert_eq!(store.dump(&ns()), live, "batches of {batch}");
        }
        // A removed machine keeps its position aside, in a rebuild too.
        let mut log = self::log();
        log.cvm(registered(A, KARLSRUHE)).cvm(removed(A, KARLSRUHE));
        let store = MemoryStore::default();
        rebuild(&Tiles, &store, &ns(), log.events(), 1).await.unwrap();
        assert_eq!(store.dump(&ns()), project(&log, 1).await.dump(&ns()));
        assert_eq!(collection(&store, REMOVED_POSITIONS).len(), 1);
    }

    #[tokio::test]
    async fn a_rebuild_reads_nothing_and_writes_only_when_the_log_is_applied() {
        let (log, _) = busy_map();
        let store = MemoryStore::default();
        let namespace = ns();
        let mut scratch = crate::Scratch::default();
        for chunk in log.events().chunks(20) {
            let mut changes = ChangeSet::for_rebuild(&store, &namespace, &mut scratch);
            for event in chunk {
                Tiles.apply(event, &mut changes).await.unwrap();
            }
            Tiles.finish_batch(&mut changes).await.unwrap();
            assert!(changes.is_empty(), "a rebuild batch writes nothing");
        }
        assert!(store.take_reads().is_empty(), "the generation is known to be empty");
        let mut changes = ChangeSet::for_rebuild(&store, &namespace, &mut scratch);
        assert!(Tiles.finish_rebuild(&mut changes).await.unwrap(), "more rounds follow");
        assert!(!changes.is_empty());
    }

    fn recomputed() -> usize {
        COMPUTED.with(|n| n.replace(0))
    }

    /// The tiles a batch moving machines between `positions` marks dirty.
    fn touched_by(positions: &[Position]) -> BTreeSet<TileId> {
        let mut borders = crate::supercluster::TileBorders::default();
        positions
            .iter()
            .flat_map(|p| affected_tiles(*p, &mut borders))
            .collect()
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
                0 => touched_by(&[*p, Position::new(p.longitude + 0.003, p.latitude)]),
                _ => touched_by(&[*p]),
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
        assert_eq!(changes.scratch::<MapState>().dirty.len(), 11);
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
        assert!(changes.scratch::<MapState>().dirty.is_empty(), "the marks are consumed");
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
