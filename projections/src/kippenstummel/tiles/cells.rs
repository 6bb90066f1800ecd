//! The `cells` index: the live machines of each zoom-12 tile, so a tile is
//! computed from the few cells under it instead of every machine.

use super::CELL_ZOOM;
use crate::supercluster::{MapPosition, TileId};
use aggregates::kippenstummel::geo::Position;
use serde::{Deserialize, Serialize};
use std::ops::RangeInclusive;

/// A `cells` document: the live machines of one zoom-12 tile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub ids: Vec<String>,
    /// `[longitude, latitude]` of `ids[i]` at index `i`.
    pub positions: Vec<(f64, f64)>,
}

impl Cell {
    pub(super) fn insert(&mut self, id: &str, position: Position) {
        self.ids.push(id.to_owned());
        self.positions.push((position.longitude, position.latitude));
    }

    pub(super) fn remove(&mut self, id: &str) {
        if let Some(i) = self.ids.iter().position(|m| m == id) {
            self.ids.remove(i);
            self.positions.remove(i);
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// (id, (longitude, latitude)) of each machine, in the document's order.
    pub(super) fn machines(&self) -> impl Iterator<Item = (&str, (f64, f64))> {
        self.ids.iter().map(String::as_str).zip(self.positions.iter().copied())
    }
}

/// A zoom-12 cell's coordinates.
pub(super) type CellId = (i64, i64);

pub(super) fn cell_of(position: Position) -> CellId {
    let t = MapPosition::new(position.longitude, position.latitude).tile(CELL_ZOOM);
    (t.x, t.y)
}

/// The cell as a tile.
pub(super) fn cell_tile((x, y): CellId) -> TileId {
    TileId { z: CELL_ZOOM, x, y }
}

/// The cells that can hold a machine inside `tile`'s box: those under it and
/// the ring around them, since the box includes its borders and a machine on
/// a border sits in the neighbouring cell. (An arithmetic shift floors, so
/// negative rows of positions beyond the Mercator limit work too.)
pub(super) fn cell_range(tile: TileId) -> (RangeInclusive<i64>, RangeInclusive<i64>) {
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

/// The cells of [`cell_range`], row by row.
pub(super) fn cells_around(tile: TileId) -> impl Iterator<Item = CellId> {
    let (xs, ys) = cell_range(tile);
    xs.flat_map(move |x| ys.clone().map(move |y| (x, y)))
}

/// Whether `tile` lies inside `outer` (a tile of the same or a lower zoom):
/// tiles nest, and a nested tile's box lies inside the outer one's (the
/// shared borders are the very same numbers: the corner formulas divide by a
/// power of two, which is exact).
pub(super) fn nested_in(tile: TileId, outer: TileId) -> bool {
    tile.z >= outer.z && {
        let shift = tile.z - outer.z;
        (tile.x >> shift, tile.y >> shift) == (outer.x, outer.y)
    }
}
