//! Map clustering identical to the JavaScript library supercluster 8.0.1 (spec 11.2), plus the
//! tile math and per-tile clusters Kippenstummel builds on it (spec 11.1, 11.3, 10.3).
//!
//! This is a port rather than a wrapper around the `supercluster` crate: the crate (3.x) indexes
//! f64 coordinates, while supercluster 8.0.1 rounds projected points to float32 (`Math.fround`
//! and kdbush's `Float32Array`), which changes radius-search results near the boundary and so
//! which clusters form (its 4.x alphas also need a newer Rust than this workspace). The port
//! follows the JavaScript statement by statement wherever float rounding or result order depends
//! on it, evaluates `Math.sin`/`log`/`exp`/`atan`/`tan`/`cos` the way V8 does (`jsmath`), and
//! is checked bit for bit against fixtures produced by the real library (`fixtures/supercluster/`).
//!
//! Layout: `index` builds the zoom levels and answers `getClusters`, on top of the KD-tree in
//! `kdbush` and the projection in `mercator`; `tiles` holds Kippenstummel's tile math and
//! per-tile clusters.
//!
//! ```
//! use projections::supercluster::{BBox, ClusterOptions, ClusterOrPoint, InputPoint, Supercluster};
//!
//! let machines = [
//!     InputPoint { id: "a", lng: 8.40395, lat: 49.0092 },
//!     InputPoint { id: "b", lng: 8.40405, lat: 49.0093 },
//! ];
//! let index = Supercluster::load(ClusterOptions::KIPPENSTUMMEL, machines);
//! let found = index.get_clusters(BBox::new(8.3, 48.9, 8.5, 49.1), 12.0);
//! assert!(matches!(found.as_slice(), [ClusterOrPoint::Cluster(c)] if c.count == 2));
//! ```

mod index;
mod jsmath;
mod kdbush;
mod mercator;
mod tiles;

#[cfg(test)]
mod fixture_tests;

pub use index::{BBox, Cluster, ClusterOptions, ClusterOrPoint, InputPoint, Supercluster};
pub use tiles::{
    clusters_for_tile, clusters_for_tile_in, disguise_lone_machines_below_dynamic_zoom, tile, tile_corner, tile_north,
    tile_west, tiles_to_recompute, MapPosition, TileBorders, TileEntry, TileId, TileRange,
    DYNAMIC_CLUSTERING_ZOOM_LIMIT, MAX_TILE_ZOOM, MAX_VIEWPORT_TILES, MIN_TILE_ZOOM,
};
