//! Web-Mercator tiles (spec 11.1) and the clusters Kippenstummel precomputes per tile (11.3),
//! which `/cvms/within` serves below zoom 12 or without a filter (10.3).

use std::collections::{HashMap, HashSet};
use std::f64::consts::PI;

use super::index::{BBox, ClusterOptions, ClusterOrPoint, InputPoint, Supercluster};
use super::jsmath;

/// Lowest zoom with precomputed tiles (spec 9.1 `MIN_TILE_ZOOM`).
pub const MIN_TILE_ZOOM: u8 = 8;
/// Highest zoom with precomputed tiles (spec 9.1 `MAX_TILE_ZOOM`).
pub const MAX_TILE_ZOOM: u8 = 18;
/// From this zoom on filters apply and tiles show lone machines as themselves
/// (spec 9.1 `DYNAMIC_CLUSTERING_ZOOM_LIMIT`).
pub const DYNAMIC_CLUSTERING_ZOOM_LIMIT: u8 = 12;

/// A slippy-map tile. `x`/`y` are signed because positions beyond the Mercator latitude limit
/// (±85.0511°) give rows outside `0..2^z`, which Kippenstummel stores all the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    pub z: u8,
    pub x: i64,
    pub y: i64,
}

/// The tile containing a position (`tile(lat, lon, z)`); a position on a tile border belongs
/// to the tile east / south of it. At |lat| >= 90° the formula is not finite; Rust's `as`
/// then saturates (NaN → 0) where JavaScript would carry NaN or ±Infinity along.
pub fn tile(lat: f64, lng: f64, z: u8) -> TileId {
    MapPosition::new(lng, lat).tile(z)
}

/// A position with the zoom-independent part of the tile formula evaluated, for finding its
/// tiles at several zooms: the formula multiplies by the scale `2^z` last, so [`tile`] at
/// every zoom shares everything before that (three `Math` calls) and gives the same tiles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MapPosition {
    pub lng: f64,
    pub lat: f64,
    /// `(lng + 180) / 360` and `(1 - ln(tan φ + sec φ) / π) / 2`: the position in tiles of zoom 0.
    x: f64,
    y: f64,
}

impl MapPosition {
    pub fn new(lng: f64, lat: f64) -> Self {
        let lat_rad = lat * PI / 180.0;
        // Same expressions, evaluation order and Math functions as the JavaScript (the
        // OpenStreetMap wiki formulas): a position on a tile border must land in the same tile.
        Self {
            lng,
            lat,
            x: (lng + 180.0) / 360.0,
            y: (1.0 - jsmath::log(jsmath::tan(lat_rad) + 1.0 / jsmath::cos(lat_rad)) / PI) / 2.0,
        }
    }

    /// [`tile`] at zoom `z`.
    pub fn tile(&self, z: u8) -> TileId {
        let scale = 2f64.powi(i32::from(z));
        TileId {
            z,
            x: (self.x * scale).floor() as i64,
            y: (self.y * scale).floor() as i64,
        }
    }

    /// Every tile at zoom `z` whose box ([`TileId::bbox`], borders included) contains the
    /// position: usually just its own tile; on a border also the neighbours sharing that
    /// border; none for a position no box contains (NaN). The boxes are the exact ones, so
    /// a position the tile formula puts a rounding error away from its box is found in the
    /// neighbour whose box holds it. A box is a column's longitudes times a row's latitudes
    /// ([`tile_west`], [`tile_north`]), so columns and rows are tested apart, and the
    /// latitude of a neighbouring row only when the position lies on that side of its own row.
    pub fn tiles_containing(&self, z: u8, borders: &mut TileBorders) -> impl Iterator<Item = TileId> {
        let own = self.tile(z);
        let mut tile_north = |y: i64, z: u8| borders.north(y, z);
        let mut columns = ([0i64; 3], 0usize);
        for x in own.x - 1..=own.x + 1 {
            if tile_west(x, z) <= self.lng && self.lng <= tile_west(x + 1, z) {
                columns.0[columns.1] = x;
                columns.1 += 1;
            }
        }
        let mut rows = ([0i64; 3], 0usize);
        let (north, south) = (tile_north(own.y, z), tile_north(own.y + 1, z));
        if self.lat >= north && self.lat <= tile_north(own.y - 1, z) {
            rows.0[rows.1] = own.y - 1;
            rows.1 += 1;
        }
        if south <= self.lat && self.lat <= north {
            rows.0[rows.1] = own.y;
            rows.1 += 1;
        }
        if self.lat <= south && tile_north(own.y + 2, z) <= self.lat {
            rows.0[rows.1] = own.y + 1;
            rows.1 += 1;
        }
        (0..columns.1).flat_map(move |i| {
            (0..rows.1).map(move |j| TileId {
                z,
                x: columns.0[i],
                y: rows.0[j],
            })
        })
    }
}

/// Tile border latitudes, each computed once: [`tile_north`] takes three `Math` calls, and
/// the machines of an area share a few rows per zoom.
#[derive(Debug, Default)]
pub struct TileBorders {
    north: HashMap<(u8, i64), f64>,
}

impl TileBorders {
    /// [`tile_north`].
    pub fn north(&mut self, y: i64, z: u8) -> f64 {
        *self.north.entry((z, y)).or_insert_with(|| tile_north(y, z))
    }

    /// [`TileId::bbox`].
    pub fn bbox(&mut self, tile: TileId) -> BBox {
        BBox {
            west: tile_west(tile.x, tile.z),
            south: self.north(tile.y + 1, tile.z),
            east: tile_west(tile.x + 1, tile.z),
            north: self.north(tile.y, tile.z),
        }
    }
}

/// The north-west corner of tile (`x`, `y`) at zoom `z` as (lng, lat) (`tileCorner`).
pub fn tile_corner(x: i64, y: i64, z: u8) -> (f64, f64) {
    (tile_west(x, z), tile_north(y, z))
}

/// The longitude of the west border of tile column `x` at zoom `z`: [`tile_corner`]'s
/// longitude, which depends on the column alone.
pub fn tile_west(x: i64, z: u8) -> f64 {
    let scale = 2f64.powi(i32::from(z));
    x as f64 / scale * 360.0 - 180.0
}

/// The latitude of the north border of tile row `y` at zoom `z`: [`tile_corner`]'s latitude,
/// which depends on the row alone.
pub fn tile_north(y: i64, z: u8) -> f64 {
    let scale = 2f64.powi(i32::from(z));
    let n = PI - 2.0 * PI * y as f64 / scale;
    // sinh(n) spelled out as in the JavaScript; the corners are the boxes machines are selected
    // with, so they must be bit-identical to Kippenstummel's.
    180.0 / PI * jsmath::atan(0.5 * (jsmath::exp(n) - jsmath::exp(-n)))
}

impl TileId {
    /// The tile's box: bottom-left is the corner of (x, y + 1), top-right the corner of (x + 1, y).
    pub fn bbox(&self) -> BBox {
        let (west, south) = tile_corner(self.x, self.y + 1, self.z);
        let (east, north) = tile_corner(self.x + 1, self.y, self.z);
        BBox {
            west,
            south,
            east,
            north,
        }
    }
}

/// Spec 11.3 step 1: the tiles to recompute after machines appeared, moved or vanished at
/// `positions` (lng, lat): each position's tile at every zoom 8..=18, without duplicates,
/// in first-seen order.
pub fn tiles_to_recompute(positions: impl IntoIterator<Item = (f64, f64)>) -> Vec<TileId> {
    let mut seen = HashSet::new();
    let mut tiles = Vec::new();
    for (lng, lat) in positions {
        for z in MIN_TILE_ZOOM..=MAX_TILE_ZOOM {
            let t = tile(lat, lng, z);
            if seen.insert(t) {
                tiles.push(t);
            }
        }
    }
    tiles
}

/// Most tiles one viewport may cover. The bbox size rule (spec 4.10) bounds a viewport in
/// kilometres, which bounds its tiles to about 33 × 33 near the equator but not near the
/// poles, where a tile shrinks with cos(latitude) (at 89.99° a 5 km box spans ~190,000 tile
/// columns at zoom 18). 64 × 64 accepts every full-size box of the rule up to ~59° latitude
/// and any real screen anywhere (a 4K screen shows 15 × 9 tiles), and bounds the tile reads
/// of one request.
pub const MAX_VIEWPORT_TILES: u64 = 64 * 64;

/// Spec 10.3 step 1: the stored tiles a viewport needs at an integer `zoom`: every x from the
/// smaller to the larger tile column of the two corners, and within each column every y, both
/// inclusive. (A fractional zoom matches no stored tile; the caller answers it with no tiles.)
/// The range is computed from the corners alone, so its size is known before any tile is
/// enumerated: callers check [`TileRange::count`] against [`MAX_VIEWPORT_TILES`] first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileRange {
    pub z: u8,
    pub x: (i64, i64),
    pub y: (i64, i64),
}

impl TileRange {
    /// The range of a viewport given as (lng, lat) corners; `None` when a corner is not finite
    /// (the original turns parenthesised coordinates into NaN and finds nothing: spec 19.5).
    pub fn of_viewport(bottom_left: (f64, f64), top_right: (f64, f64), zoom: u8) -> Option<Self> {
        let (west, south) = bottom_left;
        let (east, north) = top_right;
        if ![west, south, east, north].iter().all(|c| c.is_finite()) {
            return None;
        }
        let min = tile(north, west, zoom);
        let max = tile(south, east, zoom);
        Some(Self {
            z: zoom,
            x: (min.x.min(max.x), min.x.max(max.x)),
            y: (min.y.min(max.y), min.y.max(max.y)),
        })
    }

    /// How many tiles the range holds, at least one (saturating: a corner at ±90° gives rows far outside
    /// `0..2^z`, and the product must not overflow before it is compared).
    pub fn count(&self) -> u64 {
        let span = |(from, to): (i64, i64)| (to.abs_diff(from)).saturating_add(1);
        span(self.x).saturating_mul(span(self.y))
    }

    /// The tiles, column by column.
    pub fn tiles(&self) -> impl Iterator<Item = TileId> + '_ {
        let z = self.z;
        let (y_from, y_to) = self.y;
        (self.x.0..=self.x.1).flat_map(move |x| (y_from..=y_to).map(move |y| TileId { z, x, y }))
    }
}

/// One element of a `cvm-tiles` document's `clusters` array.
#[derive(Debug, Clone, PartialEq)]
pub enum TileEntry<T> {
    /// Stored as `{position, cvm: null, count}`: a real cluster, or below zoom 12 a lone
    /// machine disguised as a cluster of one.
    Cluster { lng: f64, lat: f64, count: u32 },
    /// Stored as `{position, cvm: <id>, count: null}`: a lone machine from zoom 12 on.
    /// The position is the machine's at computation time.
    Machine { id: T, lng: f64, lat: f64 },
}

/// Spec 11.3 step 2 for one tile: cluster just the machines inside the tile box (selected with
/// [`BBox::contains`] by the caller or the store) and query them with that box at the tile's
/// zoom. Clusters therefore never span tile borders.
pub fn clusters_for_tile<T: Clone>(
    tile: TileId,
    machines: impl IntoIterator<Item = InputPoint<T>>,
) -> Vec<TileEntry<T>> {
    clusters_for_tile_in(tile, tile.bbox(), machines)
}

/// [`clusters_for_tile`] with the tile's box given (from [`TileBorders`]).
pub fn clusters_for_tile_in<T: Clone>(
    tile: TileId,
    bbox: BBox,
    machines: impl IntoIterator<Item = InputPoint<T>>,
) -> Vec<TileEntry<T>> {
    let index = Supercluster::load(tile_options(tile.z), machines);
    let clustered = index.get_clusters(bbox, f64::from(tile.z));
    disguise_lone_machines_below_dynamic_zoom(tile.z, clustered)
}

/// Kippenstummel's options, building only the levels a tile at zoom `z` is answered from.
/// Each level is computed from the next finer one alone, and `getClusters` at zoom `z` reads
/// level `z`, so the levels below it (`min_zoom` 0..z) change nothing in the answer; cluster
/// ids do not depend on them either. Skipping them matters for the many small tiles of the
/// fine zooms: a zoom-18 tile is answered from the input points without clustering at all.
fn tile_options(z: u8) -> ClusterOptions {
    let all = ClusterOptions::KIPPENSTUMMEL;
    ClusterOptions {
        min_zoom: z.min(all.max_zoom + 1),
        ..all
    }
}

/// The "single points below zoom 12 are one-element clusters" rule (spec 10.3/11.3): filters
/// only apply from zoom 12 on, and a lone machine shown as itself below that could be made to
/// disappear by a filter, so below zoom 12 it is stored as `count: 1` without a machine id.
/// From zoom 12 on lone machines keep their id; real clusters are kept as they are.
pub fn disguise_lone_machines_below_dynamic_zoom<T>(zoom: u8, clustered: Vec<ClusterOrPoint<T>>) -> Vec<TileEntry<T>> {
    clustered
        .into_iter()
        .map(|item| match item {
            ClusterOrPoint::Cluster(c) => TileEntry::Cluster {
                lng: c.lng,
                lat: c.lat,
                count: c.count,
            },
            ClusterOrPoint::Point(p) if zoom < DYNAMIC_CLUSTERING_ZOOM_LIMIT => TileEntry::Cluster {
                lng: p.lng,
                lat: p.lat,
                count: 1,
            },
            ClusterOrPoint::Point(p) => TileEntry::Machine {
                id: p.id,
                lng: p.lng,
                lat: p.lat,
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::index::Cluster;
    use super::*;

    #[test]
    fn known_tile_numbers() {
        // Central Karlsruhe; the numbers were computed with the JavaScript formulas in node.
        assert_eq!(tile(49.0092, 8.40395, 8), TileId { z: 8, x: 133, y: 87 });
        assert_eq!(
            tile(49.0092, 8.40395, 12),
            TileId {
                z: 12,
                x: 2143,
                y: 1406
            }
        );
        assert_eq!(
            tile(49.0092, 8.40395, 18),
            TileId {
                z: 18,
                x: 137191,
                y: 90015
            }
        );
        assert_eq!(tile(0.0, 0.0, 0), TileId { z: 0, x: 0, y: 0 });
        assert_eq!(tile(0.0, 0.0, 1), TileId { z: 1, x: 1, y: 1 });
        assert_eq!(tile(85.0, -180.0, 2), TileId { z: 2, x: 0, y: 0 });
    }

    #[test]
    fn tile_box_contains_the_position_it_was_computed_for() {
        for z in MIN_TILE_ZOOM..=MAX_TILE_ZOOM {
            let t = tile(49.0092, 8.40395, z);
            let b = t.bbox();
            assert!(b.contains(8.40395, 49.0092), "zoom {z}: {b:?}");
            assert!(b.west < b.east && b.south < b.north);
        }
        let z0 = TileId { z: 0, x: 0, y: 0 }.bbox();
        assert_eq!((z0.west, z0.east), (-180.0, 180.0));
        assert!((z0.north - 85.0511287798066).abs() < 1e-12 && (z0.south + 85.0511287798066).abs() < 1e-12);
    }

    #[test]
    fn recompute_covers_zoom_8_to_18_once_per_tile() {
        let tiles = tiles_to_recompute([(8.40395, 49.0092), (8.40396, 49.0092)]);
        // The two positions are ~1 m apart: they share every tile up to zoom 17 at least.
        assert!(tiles.len() >= 11 && tiles.len() <= 12, "{tiles:?}");
        assert_eq!(tiles.first().map(|t| t.z), Some(MIN_TILE_ZOOM));
        assert_eq!(tiles.iter().filter(|t| t.z == MAX_TILE_ZOOM).count(), tiles.len() - 10);
        assert!(tiles.iter().all(|t| (MIN_TILE_ZOOM..=MAX_TILE_ZOOM).contains(&t.z)));
    }

    #[test]
    fn viewport_tiles_span_min_to_max_inclusive() {
        let range = TileRange::of_viewport((8.35, 48.97), (8.46, 49.05), 12).expect("finite corners");
        let tiles: Vec<TileId> = range.tiles().collect();
        let (min, max) = (tile(49.05, 8.35, 12), tile(48.97, 8.46, 12));
        let expected = ((max.x - min.x + 1) * (max.y - min.y + 1)) as usize;
        assert!(expected > 1);
        assert_eq!(tiles.len(), expected);
        assert_eq!(range.count(), expected as u64);
        assert_eq!(tiles.first(), Some(&min));
        assert_eq!(tiles.last(), Some(&max));
    }

    #[test]
    fn viewport_ranges_are_sized_before_enumeration() {
        // 5 km tall at 89.99°: the rule accepts it, the tile count is astronomical.
        let polar = TileRange::of_viewport((-179.0, 89.95), (179.0, 89.999), 18).expect("finite");
        assert!(polar.count() > MAX_VIEWPORT_TILES, "{polar:?}");
        // Corners at the poles give rows outside 0..2^z; the length saturates instead of overflowing.
        let poles = TileRange::of_viewport((-180.0, -90.0), (180.0, 90.0), 18).expect("finite");
        assert!(poles.count() > MAX_VIEWPORT_TILES);
        assert_eq!(TileRange::of_viewport((f64::NAN, 1.0), (2.0, 3.0), 12), None);
        assert_eq!(TileRange::of_viewport((1.0, 1.0), (2.0, f64::INFINITY), 12), None);
        // An inverted box covers the same tiles as its normalised form (spec 10.3 takes min/max).
        assert_eq!(
            TileRange::of_viewport((8.46, 49.05), (8.35, 48.97), 12),
            TileRange::of_viewport((8.35, 48.97), (8.46, 49.05), 12)
        );
    }

    fn lone(id: &'static str) -> ClusterOrPoint<&'static str> {
        ClusterOrPoint::Point(InputPoint {
            id,
            lng: 8.4,
            lat: 49.0,
        })
    }

    #[test]
    fn lone_machines_are_one_element_clusters_below_zoom_12() {
        let cluster = ClusterOrPoint::Cluster(Cluster {
            id: 99,
            lng: 8.5,
            lat: 49.1,
            count: 7,
        });
        for zoom in 0..DYNAMIC_CLUSTERING_ZOOM_LIMIT {
            assert_eq!(
                disguise_lone_machines_below_dynamic_zoom(zoom, vec![lone("a"), cluster.clone()]),
                vec![
                    TileEntry::Cluster {
                        lng: 8.4,
                        lat: 49.0,
                        count: 1
                    },
                    TileEntry::Cluster {
                        lng: 8.5,
                        lat: 49.1,
                        count: 7
                    }
                ],
                "zoom {zoom}"
            );
        }
        for zoom in DYNAMIC_CLUSTERING_ZOOM_LIMIT..=MAX_TILE_ZOOM {
            assert_eq!(
                disguise_lone_machines_below_dynamic_zoom(zoom, vec![lone("a"), cluster.clone()]),
                vec![
                    TileEntry::Machine {
                        id: "a",
                        lng: 8.4,
                        lat: 49.0
                    },
                    TileEntry::Cluster {
                        lng: 8.5,
                        lat: 49.1,
                        count: 7
                    }
                ],
                "zoom {zoom}"
            );
        }
    }

    #[test]
    fn clusters_for_tile_applies_the_disguise_rule() {
        let machine = || {
            [InputPoint {
                id: "m",
                lng: 8.40395,
                lat: 49.0092,
            }]
        };
        assert_eq!(
            clusters_for_tile(tile(49.0092, 8.40395, 11), machine()),
            vec![TileEntry::Cluster {
                lng: 8.40395,
                lat: 49.0092,
                count: 1
            }]
        );
        assert_eq!(
            clusters_for_tile(tile(49.0092, 8.40395, 12), machine()),
            vec![TileEntry::Machine {
                id: "m",
                lng: 8.40395,
                lat: 49.0092
            }]
        );
    }

    /// What `tiles_containing` promises, by brute force: the tiles around the position's own
    /// whose box contains it.
    fn containing_by_box(lng: f64, lat: f64, z: u8) -> Vec<TileId> {
        let own = tile(lat, lng, z);
        let mut found: Vec<TileId> = (-2..=2)
            .flat_map(|dx| {
                (-2..=2).map(move |dy| TileId {
                    z,
                    x: own.x + dx,
                    y: own.y + dy,
                })
            })
            .filter(|t| t.bbox().contains(lng, lat))
            .collect();
        found.sort();
        found
    }

    fn containing(lng: f64, lat: f64, z: u8) -> Vec<TileId> {
        let mut found: Vec<TileId> = MapPosition::new(lng, lat)
            .tiles_containing(z, &mut TileBorders::default())
            .collect();
        found.sort();
        found
    }

    #[test]
    fn tiles_containing_a_position_are_those_whose_box_holds_it() {
        let z12 = tile(49.0092, 8.40395, 12).bbox();
        let cases = [
            (8.40395, 49.0092, 1),
            (z12.west, 49.0092, 2),   // on a column border
            (8.40395, z12.north, 2),  // on a row border
            (z12.east, z12.south, 4), // on a corner
            (-180.0, 0.0, 4),         // antimeridian and equator: column -1 and row 2^z/2 - 1 too
            (f64::NAN, 49.0, 0),      // no box holds NaN
        ];
        for (lng, lat, at_12) in cases {
            for z in MIN_TILE_ZOOM..=MAX_TILE_ZOOM {
                assert_eq!(
                    containing(lng, lat, z),
                    containing_by_box(lng, lat, z),
                    "({lng}, {lat}) at {z}"
                );
            }
            assert_eq!(containing(lng, lat, 12).len(), at_12, "({lng}, {lat})");
        }
        for z in 0..=MAX_TILE_ZOOM {
            assert_eq!(MapPosition::new(8.40395, 49.0092).tile(z), tile(49.0092, 8.40395, z));
        }
    }

    mod properties {
        use super::super::*;
        use super::{containing, containing_by_box};
        use proptest::prelude::*;

        fn coordinate() -> impl Strategy<Value = f64> {
            prop_oneof![
                -200.0..200.0f64,
                prop::num::f64::ANY,
                Just(90.0),
                Just(-90.0),
                Just(85.0511287798),
                Just(f64::NAN),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(5000))]

            /// Any position, and positions on the borders of its tiles at every zoom.
            #[test]
            fn tiles_containing_finds_every_box_that_holds_the_position(
                lng in -180.0..180.0f64, lat in -85.0..85.0f64, z in MIN_TILE_ZOOM..=MAX_TILE_ZOOM,
                snap_x in 0u8..3, snap_y in 0u8..3,
            ) {
                let own = tile(lat, lng, z);
                let lng = [lng, tile_west(own.x, z), tile_west(own.x + 1, z)][usize::from(snap_x)];
                let lat = [lat, tile_north(own.y, z), tile_north(own.y + 1, z)][usize::from(snap_y)];
                prop_assert_eq!(containing(lng, lat, z), containing_by_box(lng, lat, z));
            }

            /// Any corners at any zoom: a range whose size is known without enumerating it,
            /// and enumerating a range within the limit yields exactly that many tiles.
            #[test]
            fn ranges_are_sized_before_they_are_walked(
                west in coordinate(), south in coordinate(), east in coordinate(), north in coordinate(),
                zoom in 0u8..=30,
            ) {
                if let Some(range) = TileRange::of_viewport((west, south), (east, north), zoom) {
                    let count = range.count();
                    prop_assert!(count >= 1);
                    if count <= MAX_VIEWPORT_TILES {
                        prop_assert_eq!(range.tiles().count() as u64, count);
                    }
                } else {
                    prop_assert!(![west, south, east, north].iter().all(|c| c.is_finite()));
                }
            }
        }
    }
}
