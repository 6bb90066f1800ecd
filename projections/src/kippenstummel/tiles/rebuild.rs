//! The end of a rebuild: every tile computed once from the final cells, then
//! the positions and cells written, in rounds of bounded size.
//!
//! The rebuild's batches only move machines in memory (see `map`), so a
//! replay clusters each tile once instead of once per batch that touched
//! it (the zoom-8..11 tiles hold thousands of machines and were touched by
//! nearly every batch). A tile depends only on the machines in it, so this
//! gives the documents the batches would have left.

use super::compute::{units, write_unit, Unit};
use super::map::MapState;
use crate::ChangeSet;

/// Documents per `finish_rebuild` round: bounds the memory a round's
/// changes take (a zoom-8 region of a city has tens of thousands of tiles)
/// while keeping the rounds few. Tests use small rounds, so their small
/// maps take several.
const DOCS_PER_ROUND: usize = if cfg!(test) { 40 } else { 10_000 };

/// A rebuild's scratch state: the map, then what is left to write.
pub(super) struct Rebuild {
    pub(super) map: MapState,
    /// The units whose tiles are still to be written, last first; planned
    /// in the first round.
    pending: Option<Vec<Unit>>,
}

impl Default for Rebuild {
    fn default() -> Self {
        Self {
            map: MapState::for_rebuild(),
            pending: None,
        }
    }
}

impl Rebuild {
    /// Writes the next round's documents into `changes`: tiles unit by unit,
    /// then (the cells no longer needed) positions and cells. True while
    /// something is left for another round.
    pub(super) fn round(&mut self, changes: &mut ChangeSet<'_>) -> bool {
        let pending = self.pending.get_or_insert_with(|| {
            let mut units = units(&self.map.cells, &mut self.map.borders);
            units.reverse();
            units
        });
        let mut written = 0;
        while written < DOCS_PER_ROUND {
            let Some(unit) = pending.pop() else { break };
            written += write_unit(&self.map.cells, &mut self.map.borders, unit, changes);
        }
        if pending.is_empty() {
            written += self
                .map
                .drain_positions(changes, DOCS_PER_ROUND.saturating_sub(written));
            self.map.drain_cells(changes, DOCS_PER_ROUND.saturating_sub(written));
        }
        !pending.is_empty() || !self.map.is_drained()
    }
}
