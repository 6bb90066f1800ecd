//! The cluster hierarchy and its queries: supercluster 8.0.1's `load` and `getClusters`.

use super::kdbush::KdBush;
use super::mercator::{fround, lat_y, lng_x, x_lng, y_lat};

/// Clustering options, with the meaning they have in supercluster.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterOptions {
    /// Cluster radius in pixels of a tile of `extent` pixels.
    pub radius: f64,
    /// Tile extent in pixels (only the ratio `radius / extent` matters).
    pub extent: f64,
    /// Lowest zoom that gets its own level.
    pub min_zoom: u8,
    /// Highest zoom that clusters; level `max_zoom + 1` holds the unclustered input points.
    pub max_zoom: u8,
    /// Fewest points that form a cluster.
    pub min_points: u32,
    /// Leaf size of the KD-trees; changes the order of query results, so it must match.
    pub node_size: usize,
}

impl ClusterOptions {
    /// What Kippenstummel configures (spec 11.2); no `reduce`, so clusters carry only a count.
    pub const KIPPENSTUMMEL: Self = Self {
        radius: 150.0,
        extent: 512.0,
        min_zoom: 0,
        max_zoom: 17,
        min_points: 2,
        node_size: 64,
    };
}

/// An input point: a machine id and its position.
#[derive(Debug, Clone, PartialEq)]
pub struct InputPoint<T> {
    pub id: T,
    pub lng: f64,
    pub lat: f64,
}

/// A bounding box in degrees, `[west, south, east, north]` in supercluster's terms.
/// `west > east` means the box crosses the antimeridian.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    pub west: f64,
    pub south: f64,
    pub east: f64,
    pub north: f64,
}

impl BBox {
    pub fn new(west: f64, south: f64, east: f64, north: f64) -> Self {
        Self {
            west,
            south,
            east,
            north,
        }
    }

    /// MongoDB's `$geoWithin: {$box: [[west, south], [east, north]]}`: points on the boundary
    /// are inside. This is how the tile precomputation selects the machines of a tile.
    pub fn contains(&self, lng: f64, lat: f64) -> bool {
        lng >= self.west && lng <= self.east && lat >= self.south && lat <= self.north
    }
}

/// A cluster as `getClusters` reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cluster {
    /// supercluster's `cluster_id` (also the GeoJSON feature id).
    pub id: i64,
    /// Count-weighted mean of the members, in projected space, projected back.
    pub lng: f64,
    pub lat: f64,
    /// `point_count`.
    pub count: u32,
}

impl Cluster {
    /// supercluster's `point_count_abbreviated`: `1234` → `"1.2k"`, `12345` → `"12k"`.
    pub fn count_abbreviated(&self) -> String {
        abbreviate_count(self.count)
    }
}

/// One element of a `getClusters` result.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterOrPoint<T> {
    Cluster(Cluster),
    /// A point that is not part of a cluster at this zoom: the input point, unchanged.
    Point(InputPoint<T>),
}

/// Marks a record as never processed (JavaScript stores `Infinity`).
const NEVER_PROCESSED: i32 = i32::MAX;

/// One entry of a level: an input point or a cluster (JavaScript keeps these as 6 numbers of a
/// flat array; the parent-cluster slot only serves `getChildren`/`getLeaves`, so it is left out).
#[derive(Debug, Clone, Copy)]
struct Record {
    /// Projected position: float32-rounded for input points, the exact f64 mean for clusters.
    x: f64,
    y: f64,
    /// The last zoom this record was visited at while building the next coarser level.
    last_zoom: i32,
    /// Index into the input points when `num_points == 1`, otherwise the cluster id.
    id: i64,
    num_points: u32,
}

/// The records of one zoom level and the KD-tree over them (tree id = position in `records`).
struct Level {
    records: Vec<Record>,
    tree: KdBush,
}

impl Level {
    fn new(records: Vec<Record>, node_size: usize) -> Self {
        let tree = KdBush::build(records.iter().map(|r| (r.x, r.y)), node_size);
        Self { records, tree }
    }
}

/// A loaded cluster index: every zoom level from `min_zoom` to `max_zoom + 1`, precomputed.
pub struct Supercluster<T> {
    options: ClusterOptions,
    points: Vec<InputPoint<T>>,
    /// Indexed by zoom; `None` below `min_zoom`.
    levels: Vec<Option<Level>>,
}

impl<T: Clone> Supercluster<T> {
    /// `new Supercluster(options).load(points)`.
    pub fn load(options: ClusterOptions, points: impl IntoIterator<Item = InputPoint<T>>) -> Self {
        let points: Vec<InputPoint<T>> = points.into_iter().collect();
        let top_zoom = usize::from(options.max_zoom) + 1;
        let mut levels: Vec<Option<Level>> = (0..=top_zoom).map(|_| None).collect();

        let records = points
            .iter()
            .enumerate()
            .map(|(index, p)| Record {
                x: fround(lng_x(p.lng)),
                y: fround(lat_y(p.lat)),
                last_zoom: NEVER_PROCESSED,
                id: index as i64,
                num_points: 1,
            })
            .collect();
        // Level max_zoom + 1 holds the input points; each coarser level is built from the next finer one.
        let mut finer = Level::new(records, options.node_size);
        for zoom in (options.min_zoom..=options.max_zoom).rev() {
            let records = cluster_level(&mut finer, zoom, &options, points.len());
            levels[usize::from(zoom) + 1] = Some(finer);
            finer = Level::new(records, options.node_size);
        }
        // The last level built is min_zoom's (or the input level if min_zoom > max_zoom).
        let lowest = if options.min_zoom <= options.max_zoom {
            usize::from(options.min_zoom)
        } else {
            top_zoom
        };
        levels[lowest] = Some(finer);

        Self {
            options,
            points,
            levels,
        }
    }

    /// `getClusters([west, south, east, north], zoom)`: the clusters and lone points of the
    /// level for `zoom` (floored and clamped to `min_zoom..=max_zoom + 1`) inside `bbox`.
    ///
    /// A NaN zoom returns nothing (JavaScript would throw on the missing level).
    pub fn get_clusters(&self, bbox: BBox, zoom: f64) -> Vec<ClusterOrPoint<T>> {
        // Written as in JavaScript: `%` is fmod in both languages, and re-normalising an
        // already normal longitude must round the same way in the recursive calls below.
        let mut min_lng = ((bbox.west + 180.0) % 360.0 + 360.0) % 360.0 - 180.0;
        let min_lat = bbox.south.clamp(-90.0, 90.0);
        let mut max_lng = if bbox.east == 180.0 {
            180.0
        } else {
            ((bbox.east + 180.0) % 360.0 + 360.0) % 360.0 - 180.0
        };
        let max_lat = bbox.north.clamp(-90.0, 90.0);

        if bbox.east - bbox.west >= 360.0 {
            min_lng = -180.0;
            max_lng = 180.0;
        } else if min_lng > max_lng {
            // Crosses the antimeridian: the eastern part first, then the western part.
            let mut eastern = self.get_clusters(BBox::new(min_lng, min_lat, 180.0, max_lat), zoom);
            let western = self.get_clusters(BBox::new(-180.0, min_lat, max_lng, max_lat), zoom);
            eastern.extend(western);
            return eastern;
        }

        let Some(level) = self.level_for(zoom) else {
            return Vec::new();
        };
        level
            .tree
            .range(lng_x(min_lng), lat_y(max_lat), lng_x(max_lng), lat_y(min_lat))
            .into_iter()
            .map(|slot| {
                let record = &level.records[slot];
                if record.num_points > 1 {
                    ClusterOrPoint::Cluster(Cluster {
                        id: record.id,
                        lng: x_lng(record.x),
                        lat: y_lat(record.y),
                        count: record.num_points,
                    })
                } else {
                    ClusterOrPoint::Point(self.points[record.id as usize].clone())
                }
            })
            .collect()
    }

    /// `_limitZoom`: `max(minZoom, min(floor(zoom), maxZoom + 1))`.
    fn level_for(&self, zoom: f64) -> Option<&Level> {
        // JavaScript's Math.max/min propagate NaN (Rust's ignore it), and the NaN level is missing.
        if zoom.is_nan() {
            return None;
        }
        let top = f64::from(self.options.max_zoom) + 1.0;
        let limited = f64::from(self.options.min_zoom).max(zoom.floor().min(top));
        self.levels.get(limited as usize)?.as_ref()
    }
}

/// `_cluster(tree, zoom)`: builds the records of level `zoom` from the `finer` level `zoom + 1`,
/// marking the visited records of `finer` in place as the JavaScript does.
fn cluster_level(finer: &mut Level, zoom: u8, options: &ClusterOptions, total_points: usize) -> Vec<Record> {
    let z = i32::from(zoom);
    let r = options.radius / (options.extent * 2f64.powi(z));
    let records = &mut finer.records;
    let mut next = Vec::new();
    let mut neighbours = Vec::new();

    for i in 0..records.len() {
        if records[i].last_zoom <= z {
            continue;
        }
        records[i].last_zoom = z;

        let Record {
            x,
            y,
            num_points: own_count,
            ..
        } = records[i];
        // Includes record i itself, which was just marked and so is skipped below.
        finer.tree.within_into(x, y, r, &mut neighbours);

        let mut num_points = own_count;
        for &k in &neighbours {
            if records[k].last_zoom > z {
                num_points += records[k].num_points;
            }
        }

        if num_points > own_count && num_points >= options.min_points {
            let id = cluster_id(i, zoom, total_points);
            let mut wx = x * f64::from(own_count);
            let mut wy = y * f64::from(own_count);
            for &k in &neighbours {
                if records[k].last_zoom <= z {
                    continue;
                }
                records[k].last_zoom = z;
                let weight = f64::from(records[k].num_points);
                wx += records[k].x * weight;
                wy += records[k].y * weight;
            }
            let count = f64::from(num_points);
            next.push(Record {
                x: wx / count,
                y: wy / count,
                last_zoom: NEVER_PROCESSED,
                id,
                num_points,
            });
        } else {
            // Copied with the mark just set, like JavaScript copies the record's numbers.
            next.push(records[i]);
            // Too few to cluster (only reachable with min_points > 2): the unvisited
            // neighbours move down unclustered as well, right behind this record.
            if num_points > 1 {
                for &k in &neighbours {
                    if records[k].last_zoom <= z {
                        continue;
                    }
                    records[k].last_zoom = z;
                    next.push(records[k]);
                }
            }
        }
    }
    next
}

/// `((i / stride | 0) << 5) + (zoom + 1) + points.length`: the origin record and zoom, offset
/// past the input point ids. The shift is JavaScript's 32-bit one, so it is done on an `i32`
/// (it would only wrap beyond 2^26 records per level).
fn cluster_id(record_index: usize, zoom: u8, total_points: usize) -> i64 {
    let shifted = (record_index as i32) << 5;
    i64::from(shifted) + i64::from(zoom) + 1 + total_points as i64
}

/// `count >= 10000 ? round(count / 1000) + "k" : count >= 1000 ? round(count / 100) / 10 + "k" : count`.
fn abbreviate_count(count: u32) -> String {
    let count = f64::from(count);
    // Counts are positive, where `f64::round` (half away from zero) equals `Math.round`
    // (half up); `Display` prints the shortest round-trip form, like JavaScript (2.0 → "2").
    if count >= 10000.0 {
        format!("{}k", (count / 1000.0).round())
    } else if count >= 1000.0 {
        format!("{}k", (count / 100.0).round() / 10.0)
    } else {
        count.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(id: u32, lng: f64, lat: f64) -> InputPoint<u32> {
        InputPoint { id, lng, lat }
    }

    #[test]
    fn abbreviates_counts_like_javascript() {
        let cases = [
            (2, "2"),
            (999, "999"),
            (1000, "1k"),
            (1049, "1k"),
            (1050, "1.1k"),
            (1234, "1.2k"),
            (1950, "2k"),
            (9999, "10k"),
            (10000, "10k"),
            (12345, "12k"),
            (12500, "13k"),
        ];
        for (count, expected) in cases {
            assert_eq!(abbreviate_count(count), expected, "count {count}");
        }
    }

    #[test]
    fn cluster_ids_encode_origin_and_zoom() {
        assert_eq!(cluster_id(0, 0, 10), 11);
        assert_eq!(cluster_id(3, 16, 100), (3 << 5) + 17 + 100);
        // JavaScript's `<<` works on int32: bit 31 set makes the shifted value negative.
        assert_eq!(cluster_id(1 << 26, 0, 0), i64::from(i32::MIN) + 1);
    }

    #[test]
    fn two_close_points_cluster_until_they_separate() {
        let index = Supercluster::load(
            ClusterOptions::KIPPENSTUMMEL,
            [point(1, 8.4, 49.0), point(2, 8.4001, 49.0)],
        );
        let world = BBox::new(-180.0, -90.0, 180.0, 90.0);
        match index.get_clusters(world, 10.0).as_slice() {
            [ClusterOrPoint::Cluster(c)] => {
                assert_eq!(c.count, 2);
                assert!((c.lng - 8.40005).abs() < 1e-5 && (c.lat - 49.0).abs() < 1e-5);
            }
            other => panic!("expected one cluster, got {other:?}"),
        }
        let raw = index.get_clusters(world, 18.0);
        assert_eq!(raw.len(), 2);
        assert!(raw.iter().all(|c| matches!(c, ClusterOrPoint::Point(_))));
    }

    #[test]
    fn nan_zoom_returns_nothing() {
        let index = Supercluster::load(ClusterOptions::KIPPENSTUMMEL, [point(1, 8.4, 49.0)]);
        assert!(index
            .get_clusters(BBox::new(-180.0, -90.0, 180.0, 90.0), f64::NAN)
            .is_empty());
        assert_eq!(
            index
                .get_clusters(BBox::new(-180.0, -90.0, 180.0, 90.0), f64::INFINITY)
                .len(),
            1
        );
    }

    #[test]
    fn min_zoom_above_max_zoom_keeps_only_the_input_level() {
        let options = ClusterOptions {
            min_zoom: 5,
            max_zoom: 3,
            ..ClusterOptions::KIPPENSTUMMEL
        };
        let index = Supercluster::load(options, [point(1, 8.4, 49.0), point(2, 8.4, 49.0)]);
        // Zoom clamps to max(5, min(z, 4)) = 5, a level that was never built.
        assert!(index
            .get_clusters(BBox::new(-180.0, -90.0, 180.0, 90.0), 0.0)
            .is_empty());
    }

    #[test]
    fn bbox_contains_its_boundary() {
        let bbox = BBox::new(8.0, 48.0, 9.0, 49.0);
        assert!(bbox.contains(8.0, 48.0) && bbox.contains(9.0, 49.0) && bbox.contains(8.5, 48.5));
        assert!(!bbox.contains(9.0000001, 48.5) && !bbox.contains(8.5, 47.9999999));
    }
}
