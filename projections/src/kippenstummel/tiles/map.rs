//! What the events change: where each machine is and the cells index, as
//! one batch (live) or a whole rebuild leaves them.
//!
//! A live batch reads each document it needs once, from the change set, and
//! writes back what changed in `finish_batch`. A rebuild starts from an
//! empty generation that nobody reads before it is complete, so its state
//! lives in memory for the whole rebuild and is written once at the end:
//! a cell of a city would otherwise be rewritten by nearly every batch.

use super::cells::{cell_of, Cell, CellId};
use super::{cell_key, CELLS, POSITIONS, REMOVED_POSITIONS};
use crate::supercluster::{MapPosition, TileBorders, TileId, MAX_TILE_ZOOM, MIN_TILE_ZOOM};
use crate::{ChangeSet, ProjectionError, RecordedEvent, StoreError};
use aggregates::kippenstummel::geo::Position;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};

/// The machines' positions and cells as far as this batch or rebuild knows
/// them, with what it changed.
#[derive(Default)]
pub(super) struct MapState {
    /// Nothing stored is unknown here: a rebuild's state, which starts from
    /// an empty generation. A live batch's state reads what it does not know.
    pub(super) complete: bool,
    /// `Some(position)` of a machine on the map, `None`: known not to be.
    positions: HashMap<String, Option<Position>>,
    /// Where removed machines were, for their restore.
    removed: HashMap<String, Option<Position>>,
    /// Cells read or written; an empty cell is a known empty one.
    pub(super) cells: HashMap<CellId, Cell>,
    /// What a live batch changed (a rebuild writes everything it knows).
    changed_positions: BTreeSet<String>,
    changed_removed: BTreeSet<String>,
    changed_cells: BTreeSet<CellId>,
    /// Tiles whose machines changed (live batches; a rebuild computes all).
    pub(super) dirty: BTreeSet<TileId>,
    pub(super) borders: TileBorders,
}

fn decode<T: DeserializeOwned>(collection: &str, key: &str, doc: Value) -> Result<T, String> {
    serde_json::from_value(doc).map_err(|e| format!("stored {collection}/{key}: {e}"))
}

fn position_doc(p: Position) -> Value {
    json!({"longitude": p.longitude, "latitude": p.latitude})
}

impl MapState {
    /// A rebuild's state: starts empty and complete.
    pub(super) fn for_rebuild() -> Self {
        Self {
            complete: true,
            ..Self::default()
        }
    }

    async fn read<T: DeserializeOwned>(
        &self,
        changes: &ChangeSet<'_>,
        event: &RecordedEvent,
        collection: &str,
        key: &str,
    ) -> Result<Option<T>, ProjectionError> {
        if self.complete {
            return Ok(None);
        }
        match changes.get(collection, key).await? {
            Some(doc) => decode(collection, key, doc)
                .map(Some)
                .map_err(|e| ProjectionError::bad_event(event, e)),
            None => Ok(None),
        }
    }

    /// Where machine `id` is, `None` when it is not on the map.
    pub(super) async fn position(
        &mut self,
        changes: &ChangeSet<'_>,
        event: &RecordedEvent,
        id: &str,
    ) -> Result<Option<Position>, ProjectionError> {
        if let Some(known) = self.positions.get(id) {
            return Ok(*known);
        }
        let stored = self.read(changes, event, POSITIONS, id).await?;
        self.positions.insert(id.to_owned(), stored);
        Ok(stored)
    }

    /// Where removed machine `id` was, forgetting it (a restore consumes it).
    pub(super) async fn take_removed(
        &mut self,
        changes: &ChangeSet<'_>,
        event: &RecordedEvent,
        id: &str,
    ) -> Result<Option<Position>, ProjectionError> {
        let kept = match self.removed.get(id) {
            Some(known) => *known,
            None => self.read(changes, event, REMOVED_POSITIONS, id).await?,
        };
        self.set_removed(id, None);
        Ok(kept)
    }

    pub(super) fn set_removed(&mut self, id: &str, position: Option<Position>) {
        self.removed.insert(id.to_owned(), position);
        if !self.complete {
            self.changed_removed.insert(id.to_owned());
        }
    }

    /// Moves machine `id` from `from` to `to` (`None`: not on the map) in its
    /// position and the cells, and marks every tile either position is in as
    /// dirty (live batches).
    pub(super) async fn relocate(
        &mut self,
        changes: &ChangeSet<'_>,
        event: &RecordedEvent,
        id: &str,
        from: Option<Position>,
        to: Option<Position>,
    ) -> Result<(), ProjectionError> {
        if from == to {
            return Ok(()); // e.g. a synchronization that confirmed the position
        }
        self.positions.insert(id.to_owned(), to);
        if !self.complete {
            self.changed_positions.insert(id.to_owned());
        }
        if let Some(p) = from {
            self.cell_mut(changes, event, cell_of(p)).await?.remove(id);
        }
        if let Some(p) = to {
            self.cell_mut(changes, event, cell_of(p)).await?.insert(id, p);
        }
        if !self.complete {
            for p in from.into_iter().chain(to) {
                self.dirty.extend(affected_tiles(p, &mut self.borders));
            }
        }
        Ok(())
    }

    async fn cell_mut(
        &mut self,
        changes: &ChangeSet<'_>,
        event: &RecordedEvent,
        id: CellId,
    ) -> Result<&mut Cell, ProjectionError> {
        if !self.cells.contains_key(&id) {
            let key = cell_key(id.0, id.1);
            let stored = self.read(changes, event, CELLS, &key).await?;
            self.cells.insert(id, stored.unwrap_or_default());
        }
        if !self.complete {
            self.changed_cells.insert(id);
        }
        Ok(self.cells.get_mut(&id).expect("just inserted"))
    }

    /// Reads every cell of `ids` this state does not know yet, in one round trip.
    pub(super) async fn load_cells(
        &mut self,
        changes: &mut ChangeSet<'_>,
        ids: impl IntoIterator<Item = CellId>,
    ) -> Result<(), ProjectionError> {
        if self.complete {
            return Ok(());
        }
        let unknown: Vec<CellId> = ids
            .into_iter()
            .filter(|id| !self.cells.contains_key(id))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let keys: Vec<String> = unknown.iter().map(|(x, y)| cell_key(*x, *y)).collect();
        let docs = changes.get_many(CELLS, &keys).await?;
        for ((id, key), doc) in unknown.into_iter().zip(&keys).zip(docs) {
            let cell = match doc {
                Some(doc) => decode(CELLS, key, doc).map_err(|e| ProjectionError::Store(StoreError::Other(e)))?,
                None => Cell::default(),
            };
            self.cells.insert(id, cell);
        }
        Ok(())
    }

    /// Puts what this live batch changed into `changes`.
    pub(super) fn write_changes(&mut self, changes: &mut ChangeSet<'_>) {
        for id in std::mem::take(&mut self.changed_positions) {
            write_position(changes, POSITIONS, &id, self.positions.get(&id).copied().flatten());
        }
        for id in std::mem::take(&mut self.changed_removed) {
            write_position(
                changes,
                REMOVED_POSITIONS,
                &id,
                self.removed.get(&id).copied().flatten(),
            );
        }
        for id in std::mem::take(&mut self.changed_cells) {
            write_cell(changes, id, self.cells.get(&id));
        }
    }

    /// Puts up to `limit` of a rebuild's positions and removed positions
    /// into `changes`, dropping them from memory; returns how many.
    pub(super) fn drain_positions(&mut self, changes: &mut ChangeSet<'_>, limit: usize) -> usize {
        let mut written = 0;
        for (collection, map) in [(POSITIONS, &mut self.positions), (REMOVED_POSITIONS, &mut self.removed)] {
            let ids: Vec<String> = map.keys().take(limit - written).cloned().collect();
            for id in ids {
                let position = map.remove(&id).flatten();
                // A rebuild starts empty: there is nothing to delete.
                if position.is_some() {
                    write_position(changes, collection, &id, position);
                }
                written += 1;
            }
            map.shrink_to_fit();
        }
        written
    }

    /// Like [`MapState::drain_positions`] for the cells (the tiles are
    /// computed from them first).
    pub(super) fn drain_cells(&mut self, changes: &mut ChangeSet<'_>, limit: usize) -> usize {
        let ids: Vec<CellId> = self.cells.keys().take(limit).copied().collect();
        for id in &ids {
            let cell = self.cells.remove(id);
            if cell.as_ref().is_some_and(|c| !c.is_empty()) {
                write_cell(changes, *id, cell.as_ref());
            }
        }
        self.cells.shrink_to_fit();
        ids.len()
    }
}

impl MapState {
    /// Whether a rebuild's state has been written out entirely.
    pub(super) fn is_drained(&self) -> bool {
        self.positions.is_empty() && self.removed.is_empty() && self.cells.is_empty()
    }
}

fn write_position(changes: &mut ChangeSet<'_>, collection: &str, id: &str, position: Option<Position>) {
    match position {
        Some(p) => changes.put(collection, id, position_doc(p)),
        None => changes.delete(collection, id),
    }
}

fn write_cell(changes: &mut ChangeSet<'_>, id: CellId, cell: Option<&Cell>) {
    let key = cell_key(id.0, id.1);
    match cell {
        Some(cell) if !cell.is_empty() => {
            changes.put(CELLS, &key, serde_json::to_value(cell).expect("cells serialize"))
        }
        _ => changes.delete(CELLS, &key),
    }
}

/// Every tile (zoom 8..=18) whose content a machine at `p` is part of: the
/// tiles whose box contains it, and its own tile by the tile formula (which
/// a rounding error can put beside the box; recomputing it is harmless).
pub(super) fn affected_tiles(p: Position, borders: &mut TileBorders) -> Vec<TileId> {
    let at = MapPosition::new(p.longitude, p.latitude);
    let mut tiles = Vec::new();
    for z in MIN_TILE_ZOOM..=MAX_TILE_ZOOM {
        tiles.push(at.tile(z));
        tiles.extend(at.tiles_containing(z, borders));
    }
    tiles
}
