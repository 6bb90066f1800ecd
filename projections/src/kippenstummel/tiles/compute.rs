//! Tile documents computed from the cells: the dirty tiles of a live batch,
//! and every tile of a region or cell at the end of a rebuild.

use super::cells::{cell_tile, cells_around, nested_in, Cell, CellId};
use super::map::MapState;
use super::{tile_key, CELL_ZOOM, TILES};
use crate::supercluster::{
    clusters_for_tile_in, InputPoint, MapPosition, TileBorders, TileEntry, TileId, MAX_TILE_ZOOM, MIN_TILE_ZOOM,
};
use crate::{ChangeSet, ProjectionError};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;

#[cfg(test)]
thread_local! {
    /// How many tiles this thread computed (tests run each on its own thread).
    pub(super) static COMPUTED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn entry_doc(entry: TileEntry<&str>) -> Value {
    match entry {
        TileEntry::Cluster { lng, lat, count } => {
            json!({"longitude": lng, "latitude": lat, "cvm": null, "count": count})
        }
        TileEntry::Machine { id, lng, lat } => json!({"longitude": lng, "latitude": lat, "cvm": id, "count": null}),
    }
}

/// Writes `tile`'s document clustered from `machines` (the machines in its
/// box, in id order), or deletes it when there are none.
fn write_tile(changes: &mut ChangeSet<'_>, borders: &mut TileBorders, tile: TileId, machines: Vec<InputPoint<&str>>) {
    #[cfg(test)]
    COMPUTED.with(|n| n.set(n.get() + 1));
    let key = tile_key(tile.z, tile.x, tile.y);
    if machines.is_empty() {
        changes.delete(TILES, &key);
        return;
    }
    let clusters: Vec<Value> = clusters_for_tile_in(tile, borders.bbox(tile), machines)
        .into_iter()
        .map(entry_doc)
        .collect();
    changes.put(TILES, &key, json!({ "clusters": clusters }));
}

/// Machines whose position lies in `tile`'s box, in id order.
fn machines_in<'c>(
    cells: &'c HashMap<CellId, Cell>,
    borders: &mut TileBorders,
    tile: TileId,
) -> Vec<InputPoint<&'c str>> {
    let bbox = borders.bbox(tile);
    let mut machines: Vec<InputPoint<&str>> = cells_around(tile)
        .filter_map(|id| cells.get(&id))
        .flat_map(Cell::machines)
        .filter(|(_, (lng, lat))| bbox.contains(*lng, *lat))
        .map(|(id, (lng, lat))| InputPoint { id, lng, lat })
        .collect();
    machines.sort_by(|a, b| a.id.cmp(b.id));
    machines
}

/// A live batch: recomputes each tile it marked dirty once, from the cells
/// as it left them, reading the cells it does not know yet in one go.
pub(super) async fn recompute_dirty(state: &mut MapState, changes: &mut ChangeSet<'_>) -> Result<(), ProjectionError> {
    let dirty = std::mem::take(&mut state.dirty);
    state
        .load_cells(changes, dirty.iter().flat_map(|t| cells_around(*t)))
        .await?;
    for tile in dirty {
        let machines = machines_in(&state.cells, &mut state.borders, tile);
        write_tile(changes, &mut state.borders, tile, machines);
    }
    Ok(())
}

/// A part of a rebuild's tiles, computed in one go: a zoom-8 region's tiles
/// of zooms 8..=11, or a cell's tiles of zooms 12..=18 (each tile nests in
/// exactly one of either).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Unit {
    Region(TileId),
    Cell(CellId),
}

impl Unit {
    fn tile(self) -> TileId {
        match self {
            Unit::Region(tile) => tile,
            Unit::Cell(cell) => cell_tile(cell),
        }
    }

    fn zooms(self) -> RangeInclusive<u8> {
        match self {
            Unit::Region(_) => MIN_TILE_ZOOM..=CELL_ZOOM - 1,
            Unit::Cell(_) => CELL_ZOOM..=MAX_TILE_ZOOM,
        }
    }
}

/// Every unit that holds a machine: the regions and cells whose box
/// contains one, in order.
pub(super) fn units(cells: &HashMap<CellId, Cell>, borders: &mut TileBorders) -> Vec<Unit> {
    let mut units = Vec::new();
    for (_, (lng, lat)) in cells.values().flat_map(Cell::machines) {
        let at = MapPosition::new(lng, lat);
        units.extend(at.tiles_containing(MIN_TILE_ZOOM, borders).map(Unit::Region));
        units.extend(at.tiles_containing(CELL_ZOOM, borders).map(|t| Unit::Cell((t.x, t.y))));
    }
    units.sort_unstable();
    units.dedup();
    units
}

/// Writes every tile of `unit` that holds a machine; returns how many.
///
/// Each machine in the unit's box is placed in the tiles containing it at
/// each zoom, which are the tiles whose box contains it (the same selection
/// as `machines_in`, without testing every machine of the neighbourhood
/// against every tile).
pub(super) fn write_unit(
    cells: &HashMap<CellId, Cell>,
    borders: &mut TileBorders,
    unit: Unit,
    changes: &mut ChangeSet<'_>,
) -> usize {
    let outer = unit.tile();
    let bbox = borders.bbox(outer);
    let mut machines: Vec<(&str, MapPosition)> = cells_around(outer)
        .filter_map(|id| cells.get(&id))
        .flat_map(Cell::machines)
        .filter(|(_, (lng, lat))| bbox.contains(*lng, *lat))
        .map(|(id, (lng, lat))| (id, MapPosition::new(lng, lat)))
        .collect();
    // Placed in id order, each tile's machines come out in id order.
    machines.sort_by(|a, b| a.0.cmp(b.0));
    let mut tiles: BTreeMap<TileId, Vec<InputPoint<&str>>> = BTreeMap::new();
    for (id, at) in &machines {
        for z in unit.zooms() {
            for tile in at.tiles_containing(z, borders).filter(|t| nested_in(*t, outer)) {
                tiles.entry(tile).or_default().push(InputPoint {
                    id,
                    lng: at.lng,
                    lat: at.lat,
                });
            }
        }
    }
    let written = tiles.len();
    for (tile, machines) in tiles {
        write_tile(changes, borders, tile, machines);
    }
    written
}
