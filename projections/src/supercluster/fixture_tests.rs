//! Compares the port with the output of the real supercluster@8.0.1 recorded in
//! `fixtures/supercluster/cases/*.json` (see the README there). Floats are compared bit for bit.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use super::index::{BBox, ClusterOptions, ClusterOrPoint, InputPoint, Supercluster};
use super::jsmath;
use super::tiles::{clusters_for_tile, tile, tile_corner, TileEntry, TileId};

/// Every case the generator writes; a missing or unexpected file fails the test.
const EXPECTED_CASES: [&str; 15] = [
    "antimeridian",
    "custom-options-small-nodes",
    "dense-city-karlsruhe",
    "empty",
    "js-math",
    "library-defaults-min-points-5",
    "near-poles",
    "radius-boundary-grid",
    "single-point",
    "sparse-region",
    "stacked-duplicates",
    "tile-borders",
    "tile-math",
    "tiles-karlsruhe",
    "tiles-sparse",
];

// ------------------------------------------------------------------------------------------
// Fixture file format (written by fixtures/supercluster/generate.mjs)

/// Floats are stored as JavaScript's shortest round-trip strings; `str::parse` reads them back
/// bit-exactly (serde_json's default float parsing does not promise that).
#[derive(Deserialize, Clone)]
struct JsFloat(String);

impl JsFloat {
    fn value(&self) -> f64 {
        self.0.parse().unwrap_or_else(|e| panic!("bad float {:?}: {e}", self.0))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FixtureCase {
    name: String,
    options: Option<JsOptions>,
    #[serde(default)]
    points: Vec<(String, JsFloat, JsFloat)>,
    #[serde(default)]
    queries: Vec<BboxQuery>,
    #[serde(default)]
    tiles: Vec<TileQuery>,
    #[serde(default)]
    tile_numbers: Vec<TileNumber>,
    #[serde(default)]
    corners: Vec<TileCorner>,
    /// Function name → `[argument, Math.fn(argument)]` pairs.
    #[serde(default)]
    math: HashMap<String, Vec<(JsFloat, JsFloat)>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsOptions {
    radius: f64,
    extent: f64,
    min_zoom: u8,
    max_zoom: u8,
    min_points: u32,
    node_size: usize,
}

#[derive(Deserialize)]
struct BboxQuery {
    bbox: [JsFloat; 4],
    zoom: JsFloat,
    result: Vec<JsFeature>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TileQuery {
    z: u8,
    x: i64,
    y: i64,
    bbox: [JsFloat; 4],
    point_ids: Vec<String>,
    result: Vec<JsFeature>,
    entries: Vec<JsTileEntry>,
}

/// One `getClusters` feature: a cluster, or an input point named by its id.
#[derive(Deserialize)]
#[serde(untagged)]
enum JsFeature {
    Cluster {
        cluster: i64,
        count: u32,
        abbreviated: String,
        lng: JsFloat,
        lat: JsFloat,
    },
    Point {
        point: String,
    },
}

/// One element of a `cvm-tiles` document's `clusters` array.
#[derive(Deserialize)]
struct JsTileEntry {
    lng: JsFloat,
    lat: JsFloat,
    cvm: Option<String>,
    count: Option<u32>,
}

#[derive(Deserialize)]
struct TileNumber {
    lng: JsFloat,
    lat: JsFloat,
    z: u8,
    x: i64,
    y: i64,
}

#[derive(Deserialize)]
struct TileCorner {
    x: i64,
    y: i64,
    z: u8,
    lng: JsFloat,
    lat: JsFloat,
}

// ------------------------------------------------------------------------------------------
// A common, exactly comparable form for expected and actual results

/// An f64 compared bit for bit (so 0.0 and -0.0 differ, as they would in the JSON); any NaN
/// equals any NaN, since the JSON cannot tell NaNs apart.
#[derive(Clone, Copy)]
struct Exact(f64);

impl PartialEq for Exact {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits() || (self.0.is_nan() && other.0.is_nan())
    }
}

impl fmt::Debug for Exact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

#[derive(Debug, PartialEq)]
enum Item {
    Cluster {
        id: i64,
        count: u32,
        abbreviated: String,
        lng: Exact,
        lat: Exact,
    },
    Point {
        id: String,
        lng: Exact,
        lat: Exact,
    },
}

#[derive(Debug, PartialEq)]
enum Entry {
    Cluster { lng: Exact, lat: Exact, count: u32 },
    Machine { id: String, lng: Exact, lat: Exact },
}

type Points = HashMap<String, InputPoint<String>>;

fn expected_items(features: &[JsFeature], points: &Points) -> Vec<Item> {
    features
        .iter()
        .map(|f| match f {
            JsFeature::Cluster {
                cluster,
                count,
                abbreviated,
                lng,
                lat,
            } => Item::Cluster {
                id: *cluster,
                count: *count,
                abbreviated: abbreviated.clone(),
                lng: Exact(lng.value()),
                lat: Exact(lat.value()),
            },
            JsFeature::Point { point } => {
                let p = &points[point];
                Item::Point {
                    id: point.clone(),
                    lng: Exact(p.lng),
                    lat: Exact(p.lat),
                }
            }
        })
        .collect()
}

fn actual_items(found: Vec<ClusterOrPoint<String>>) -> Vec<Item> {
    found
        .into_iter()
        .map(|c| match c {
            ClusterOrPoint::Cluster(c) => Item::Cluster {
                id: c.id,
                count: c.count,
                abbreviated: c.count_abbreviated(),
                lng: Exact(c.lng),
                lat: Exact(c.lat),
            },
            ClusterOrPoint::Point(p) => Item::Point {
                id: p.id,
                lng: Exact(p.lng),
                lat: Exact(p.lat),
            },
        })
        .collect()
}

fn expected_entries(entries: &[JsTileEntry]) -> Vec<Entry> {
    entries
        .iter()
        .map(|e| {
            let (lng, lat) = (Exact(e.lng.value()), Exact(e.lat.value()));
            match (&e.cvm, e.count) {
                (None, Some(count)) => Entry::Cluster { lng, lat, count },
                (Some(id), None) => Entry::Machine {
                    id: id.clone(),
                    lng,
                    lat,
                },
                other => panic!("a tile entry has either a cvm or a count, got {other:?}"),
            }
        })
        .collect()
}

fn actual_entries(entries: Vec<TileEntry<String>>) -> Vec<Entry> {
    entries
        .into_iter()
        .map(|e| match e {
            TileEntry::Cluster { lng, lat, count } => Entry::Cluster {
                lng: Exact(lng),
                lat: Exact(lat),
                count,
            },
            TileEntry::Machine { id, lng, lat } => Entry::Machine {
                id,
                lng: Exact(lng),
                lat: Exact(lat),
            },
        })
        .collect()
}

fn bbox_of(values: &[JsFloat; 4]) -> BBox {
    BBox::new(
        values[0].value(),
        values[1].value(),
        values[2].value(),
        values[3].value(),
    )
}

fn exact_bbox(b: BBox) -> [Exact; 4] {
    [Exact(b.west), Exact(b.south), Exact(b.east), Exact(b.north)]
}

/// Describes the first difference of two lists, or `None` if they are equal.
fn first_difference<T: PartialEq + fmt::Debug>(expected: &[T], actual: &[T]) -> Option<String> {
    if let Some(i) = (0..expected.len().min(actual.len())).find(|&i| expected[i] != actual[i]) {
        return Some(format!(
            "first difference at #{i}: expected {:?}, got {:?}",
            expected[i], actual[i]
        ));
    }
    (expected.len() != actual.len()).then(|| {
        format!(
            "expected {} elements, got {} (equal up to the shorter)",
            expected.len(),
            actual.len()
        )
    })
}

// ------------------------------------------------------------------------------------------
// Loading and checking

fn cases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/supercluster/cases")
}

fn load_cases() -> Vec<FixtureCase> {
    let dir = cases_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

fn options_of(case: &FixtureCase) -> ClusterOptions {
    let o = case
        .options
        .as_ref()
        .unwrap_or_else(|| panic!("{}: no options", case.name));
    ClusterOptions {
        radius: o.radius,
        extent: o.extent,
        min_zoom: o.min_zoom,
        max_zoom: o.max_zoom,
        min_points: o.min_points,
        node_size: o.node_size,
    }
}

fn input_points(case: &FixtureCase) -> Vec<InputPoint<String>> {
    case.points
        .iter()
        .map(|(id, lng, lat)| InputPoint {
            id: id.clone(),
            lng: lng.value(),
            lat: lat.value(),
        })
        .collect()
}

/// Runs every bbox query of a case; returns one message per mismatching query.
fn check_bbox_queries(case: &FixtureCase, points: &Points) -> Vec<String> {
    if case.queries.is_empty() {
        return Vec::new();
    }
    let index = Supercluster::load(options_of(case), input_points(case));
    let mut failures = Vec::new();
    for (n, query) in case.queries.iter().enumerate() {
        let bbox = bbox_of(&query.bbox);
        let zoom = query.zoom.value();
        let actual = actual_items(index.get_clusters(bbox, zoom));
        let expected = expected_items(&query.result, points);
        if let Some(diff) = first_difference(&expected, &actual) {
            failures.push(format!("{} query #{n} (bbox {bbox:?}, zoom {zoom}): {diff}", case.name));
        }
    }
    failures
}

/// Recomputes every tile of a case as the precompute job does; returns one message per mismatch.
fn check_tiles(case: &FixtureCase, points: &Points) -> Vec<String> {
    let mut failures = Vec::new();
    if case.tiles.is_empty() {
        return failures;
    }
    if options_of(case) != ClusterOptions::KIPPENSTUMMEL {
        failures.push(format!("{}: tile cases must use Kippenstummel's options", case.name));
    }
    let inputs = input_points(case);
    for t in &case.tiles {
        let id = TileId { z: t.z, x: t.x, y: t.y };
        let context = format!("{} tile {}/{}/{}", case.name, t.z, t.x, t.y);

        let bbox = id.bbox();
        if exact_bbox(bbox) != exact_bbox(bbox_of(&t.bbox)) {
            failures.push(format!(
                "{context}: bbox {bbox:?}, expected {:?}",
                exact_bbox(bbox_of(&t.bbox))
            ));
        }

        let selected: Vec<InputPoint<String>> =
            inputs.iter().filter(|p| bbox.contains(p.lng, p.lat)).cloned().collect();
        let selected_ids: Vec<&String> = selected.iter().map(|p| &p.id).collect();
        let expected_ids: Vec<&String> = t.point_ids.iter().collect();
        if let Some(diff) = first_difference(&expected_ids, &selected_ids) {
            failures.push(format!("{context}: selected machines: {diff}"));
        }

        let found =
            Supercluster::load(ClusterOptions::KIPPENSTUMMEL, selected.clone()).get_clusters(bbox, f64::from(t.z));
        if let Some(diff) = first_difference(&expected_items(&t.result, points), &actual_items(found)) {
            failures.push(format!("{context}: clusters: {diff}"));
        }

        let entries = actual_entries(clusters_for_tile(id, selected));
        if let Some(diff) = first_difference(&expected_entries(&t.entries), &entries) {
            failures.push(format!("{context}: tile entries: {diff}"));
        }
    }
    failures
}

fn check_tile_math(case: &FixtureCase) -> Vec<String> {
    let mut failures = Vec::new();
    for t in &case.tile_numbers {
        let (lng, lat) = (t.lng.value(), t.lat.value());
        let actual = tile(lat, lng, t.z);
        let expected = TileId { z: t.z, x: t.x, y: t.y };
        if actual != expected {
            failures.push(format!(
                "{}: tile({lat}, {lng}, {}) = {actual:?}, expected {expected:?}",
                case.name, t.z
            ));
        }
    }
    for c in &case.corners {
        let (lng, lat) = tile_corner(c.x, c.y, c.z);
        let expected = (Exact(c.lng.value()), Exact(c.lat.value()));
        if (Exact(lng), Exact(lat)) != expected {
            failures.push(format!(
                "{}: tile_corner({}, {}, {}) = {:?}, expected {expected:?}",
                case.name,
                c.x,
                c.y,
                c.z,
                (lng, lat)
            ));
        }
    }
    failures
}

/// V8's Math functions against the ports in `jsmath`.
fn check_js_math(case: &FixtureCase) -> Vec<String> {
    type MathFn = fn(f64) -> f64;
    let functions: [(&str, MathFn); 6] = [
        ("sin", jsmath::sin),
        ("cos", jsmath::cos),
        ("tan", jsmath::tan),
        ("atan", jsmath::atan),
        ("exp", jsmath::exp),
        ("log", jsmath::log),
    ];
    let mut failures = Vec::new();
    if case.math.is_empty() {
        return failures;
    }
    for (name, function) in functions {
        let vectors = case.math.get(name).map(Vec::as_slice).unwrap_or_default();
        if vectors.is_empty() {
            failures.push(format!("{}: no vectors for Math.{name}", case.name));
        }
        for (argument, expected) in vectors {
            let (x, expected) = (argument.value(), Exact(expected.value()));
            let actual = Exact(function(x));
            if actual != expected {
                failures.push(format!(
                    "{}: Math.{name}({x:?}) = {expected:?}, port gives {actual:?}",
                    case.name
                ));
            }
        }
    }
    failures
}

/// Runs the checks a case has data for; returns failures and how many checks ran.
fn check_case(case: &FixtureCase) -> (Vec<String>, usize) {
    let points: Points = input_points(case).into_iter().map(|p| (p.id.clone(), p)).collect();
    assert_eq!(points.len(), case.points.len(), "{}: duplicate point ids", case.name);
    let mut failures = check_bbox_queries(case, &points);
    failures.extend(check_tiles(case, &points));
    failures.extend(check_tile_math(case));
    failures.extend(check_js_math(case));
    let checks = case.queries.len()
        + case.tiles.len()
        + case.tile_numbers.len()
        + case.corners.len()
        + case.math.values().map(Vec::len).sum::<usize>();
    (failures, checks)
}

#[test]
fn fixture_set_is_complete() {
    let names: Vec<String> = load_cases().into_iter().map(|c| c.name).collect();
    assert_eq!(names, EXPECTED_CASES);
}

#[test]
fn port_matches_supercluster_js_on_every_fixture() {
    let mut failures = Vec::new();
    for case in load_cases() {
        let (case_failures, checks) = check_case(&case);
        assert!(checks > 0, "{}: the case checks nothing", case.name);
        failures.extend(case_failures);
    }
    let shown: Vec<&String> = failures.iter().take(20).collect();
    assert!(
        failures.is_empty(),
        "{} mismatches with supercluster@8.0.1:\n{shown:#?}",
        failures.len()
    );
}

#[test]
fn fixture_comparison_detects_a_wrong_result() {
    // Guards the comparison itself: perturbing one coordinate by one ulp must be noticed.
    let case = load_cases()
        .into_iter()
        .find(|c| c.name == "dense-city-karlsruhe")
        .expect("dense city case");
    let points: Points = input_points(&case).into_iter().map(|p| (p.id.clone(), p)).collect();
    let query = &case.queries[3];
    let mut actual = expected_items(&query.result, &points);
    assert_eq!(first_difference(&expected_items(&query.result, &points), &actual), None);
    if let Some(Item::Cluster { lng, .. }) = actual.first_mut() {
        lng.0 = f64::from_bits(lng.0.to_bits() + 1);
    }
    assert!(first_difference(&expected_items(&query.result, &points), &actual).is_some());
}
