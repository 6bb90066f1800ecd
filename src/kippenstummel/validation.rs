//! Request validation with the original's error details (spec 2.4): at most
//! one violation per property, `{property, constraint, message}`.

use crate::http::error::{ApiError, INVALID_PAYLOAD};
use coordinates::{is_bbox_small_enough, is_lat_long, parse_lat_long};
use projections::supercluster::{TileRange, MAX_VIEWPORT_TILES};
use serde_json::{json, Value};

#[derive(Debug, Default)]
pub struct Violations(Vec<Value>);

impl Violations {
    pub fn add(&mut self, property: &str, constraint: &str, message: String) {
        self.0
            .push(json!({"property": property, "constraint": constraint, "message": message}));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The violations so far, leaving none.
    pub fn take(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.0)
    }

    /// Adds a violation of a nested object with its property path prefixed (`cvms.3.`).
    pub fn push_prefixed(&mut self, prefix: &str, mut violation: Value) {
        let property = violation["property"].as_str().unwrap_or_default().to_owned();
        let message = violation["message"].as_str().unwrap_or_default().to_owned();
        violation["property"] = Value::String(format!("{prefix}{property}"));
        violation["message"] = Value::String(format!("{prefix}{message}"));
        self.0.push(violation);
    }

    /// 422 `INVALID_PAYLOAD_ERROR` with the details, or Ok when there are none.
    pub fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::with_details(INVALID_PAYLOAD, Some(self.0)))
        }
    }
}

pub fn is_defined(value: Option<&Value>) -> bool {
    !matches!(value, None | Some(Value::Null))
}

/// A UUID as class-validator's `isUUID` accepts it: 8-4-4-4-12 hex with
/// version 1–8 and variant 8/9/a/b, or the nil/max UUID; any case.
pub fn is_uuid(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if lower == "00000000-0000-0000-0000-000000000000" || lower == "ffffffff-ffff-ffff-ffff-ffffffffffff" {
        return true;
    }
    let groups: Vec<&str> = lower.split('-').collect();
    let lengths_ok = groups.len() == 5 && groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12]);
    lengths_ok
        && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
        && matches!(groups[2].as_bytes()[0], b'1'..=b'8')
        && matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b')
}

/// JavaScript's `Number(s)` for query strings: trimmed decimal (or hex/
/// exponent) text, "" → 0, anything else → NaN.
pub fn js_number(s: &str) -> f64 {
    let t = s.trim();
    if t.is_empty() {
        return 0.0;
    }
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return i64::from_str_radix(hex, 16).map_or(f64::NAN, |v| v as f64);
    }
    match t {
        "Infinity" | "+Infinity" => f64::INFINITY,
        "-Infinity" => f64::NEG_INFINITY,
        _ if t
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')) =>
        {
            t.parse().unwrap_or(f64::NAN)
        }
        _ => f64::NAN,
    }
}

/// Paging parameters (spec 4): `page` ≥ 0 (default 0), `perPage` 1..50 (default 25).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paging {
    pub page: u64,
    pub per_page: u64,
}

impl Paging {
    pub fn parse(page: Option<&str>, per_page: Option<&str>, violations: &mut Violations) -> Self {
        let page_number = page.map_or(0.0, js_number);
        let per_page_number = per_page.map_or(25.0, js_number);
        // class-validator checks the bottom-most decorator first: min before isNumber.
        if page_number.is_nan() || page_number < 0.0 {
            violations.add("page", "min", "page must not be less than 0".into());
        } else if !page_number.is_finite() {
            violations.add(
                "page",
                "isNumber",
                "page must be a number conforming to the specified constraints".into(),
            );
        }
        if per_page_number.is_nan() || per_page_number > 50.0 {
            violations.add("perPage", "max", "perPage must not be greater than 50".into());
        } else if per_page_number < 1.0 {
            violations.add("perPage", "min", "perPage must not be less than 1".into());
        }
        Self {
            page: if page_number.is_finite() && page_number > 0.0 {
                page_number.floor() as u64
            } else {
                0
            },
            per_page: if (1.0..=50.0).contains(&per_page_number) {
                per_page_number.floor() as u64
            } else {
                25
            },
        }
    }

    /// Items to skip. Saturates: `page` may be anything up to 2^64 (the
    /// original has no maximum) and the product must not overflow; a page
    /// past the end is simply empty.
    pub fn offset(&self) -> usize {
        usize::try_from(self.page.saturating_mul(self.per_page)).unwrap_or(usize::MAX)
    }
}

/// A validated `/cvms/within` viewport: corners normalised (south ≤ north,
/// west ≤ east unless NaN), zoom 8..18.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Viewport {
    pub south: f64,
    pub west: f64,
    pub north: f64,
    pub east: f64,
    pub zoom: f64,
}

/// Validates the viewport parameters of `/cvms/within` (spec 4.10).
///
/// An inverted box (south above north, or west east of east) is answered as
/// its normalised form, which is what the original's tile lookup (min/max of
/// the corners' tiles) does; unlike the original, the size rule then applies
/// to it too, so no box escapes the rule by being inverted (bug 29). The rule
/// bounds a box in kilometres, which near the poles still allows millions of
/// tiles: a box needing more than [`MAX_VIEWPORT_TILES`] tiles is refused the
/// same way, before any tile is enumerated.
pub fn viewport(bottom_left: Option<&str>, top_right: Option<&str>, zoom: Option<&str>) -> Result<Viewport, ApiError> {
    let mut violations = Violations::default();
    let zoom_number = zoom.map_or(f64::NAN, js_number);
    let corners = [("bottomLeft", bottom_left), ("topRight", top_right)];
    let both_valid = corners.iter().all(|(_, c)| c.is_some_and(is_lat_long));
    let (mut south, mut west) = bottom_left
        .filter(|_| both_valid)
        .map_or((f64::NAN, f64::NAN), parse_lat_long);
    let (mut north, mut east) = top_right
        .filter(|_| both_valid)
        .map_or((f64::NAN, f64::NAN), parse_lat_long);
    // NaN compares false: parenthesised corners stay NaN and find nothing (19.5).
    if south > north {
        std::mem::swap(&mut south, &mut north);
    }
    if west > east {
        std::mem::swap(&mut west, &mut east);
    }
    let too_many_tiles = (8.0..=18.0).contains(&zoom_number)
        && zoom_number.fract() == 0.0
        && TileRange::of_viewport((west, south), (east, north), zoom_number as u8)
            .is_some_and(|range| range.count() > MAX_VIEWPORT_TILES);
    let small_enough = is_bbox_small_enough(south, west, north, east, zoom_number) && !too_many_tiles;
    for (name, value) in corners {
        match value {
            None => violations.add(name, "isDefined", format!("{name} should not be null or undefined")),
            // The size check runs before isLatLong, so it is reported on both corners.
            Some(_) if both_valid && !small_enough => violations.add(
                name,
                "IsBBoxValid",
                "bounding box size is too big for the zoom level".into(),
            ),
            Some(v) if !is_lat_long(v) => {
                violations.add(name, "isLatLong", format!("{name} must be a latitude,longitude string"))
            }
            Some(_) => {}
        }
    }
    if zoom.is_none() {
        violations.add("zoom", "isDefined", "zoom should not be null or undefined".into());
    } else if zoom_number.is_nan() || zoom_number > 18.0 {
        violations.add("zoom", "max", "zoom must not be greater than 18".into());
    } else if zoom_number < 8.0 {
        violations.add("zoom", "min", "zoom must not be less than 8".into());
    }
    violations.into_result()?;
    Ok(Viewport {
        south,
        west,
        north,
        east,
        zoom: zoom_number,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_as_class_validator_sees_them() {
        assert!(is_uuid("3f0e5a4c-1b2d-4c3e-8f4a-5b6c7d8e9f01"));
        assert!(is_uuid("3F0E5A4C-1B2D-4C3E-8F4A-5B6C7D8E9F01"));
        assert!(is_uuid("00000000-0000-0000-0000-000000000000"));
        assert!(!is_uuid("3f0e5a4c-1b2d-9c3e-8f4a-5b6c7d8e9f01"), "version 9");
        assert!(!is_uuid("3f0e5a4c-1b2d-4c3e-cf4a-5b6c7d8e9f01"), "variant c");
        assert!(!is_uuid("3f0e5a4c1b2d4c3e8f4a5b6c7d8e9f01"));
        assert!(!is_uuid("3f0e5a4c-1b2d-4c3e-8f4a-5b6c7d8e9f0g"));
        assert!(!is_uuid(""));
    }

    #[test]
    fn numbers_as_javascript_reads_them() {
        assert_eq!(js_number(" 12 "), 12.0);
        assert_eq!(js_number(""), 0.0);
        assert_eq!(js_number("1.5"), 1.5);
        assert_eq!(js_number("1e3"), 1000.0);
        assert_eq!(js_number("0x10"), 16.0);
        assert!(js_number("abc").is_nan());
        assert!(js_number("12abc").is_nan());
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn number_text() -> impl Strategy<Value = String> {
            prop_oneof![
                "-?[0-9]{0,25}(\\.[0-9]{0,5})?(e-?[0-9]{1,3})?",
                Just("Infinity".to_owned()),
                Just("NaN".to_owned()),
                Just("0x7fffffffffffffff".to_owned()),
                any::<String>(),
            ]
        }

        fn lat_long_text() -> impl Strategy<Value = String> {
            prop_oneof![
                "\\(?-?[0-9]{1,3}(\\.[0-9]{0,6})?, ?-?[0-9]{1,3}(\\.[0-9]{0,6})?\\)?(,[0-9]{0,3})?",
                // Near the poles, where the km rule admits boxes of millions of tiles.
                "-?8[5-9]\\.[0-9]{1,5},-?[0-9]{1,2}(\\.[0-9]{1,3})?",
                any::<String>(),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(5000))]

            /// Any page parameters: within bounds, and an offset that does not overflow.
            #[test]
            fn paging_is_bounded(page in proptest::option::of(number_text()), per_page in proptest::option::of(number_text())) {
                let mut violations = Violations::default();
                let paging = Paging::parse(page.as_deref(), per_page.as_deref(), &mut violations);
                prop_assert!((1..=50).contains(&paging.per_page));
                let _ = paging.offset();
            }

            /// Any viewport: refused, or one whose tiles are few enough to read and whose
            /// normalised box obeys the size rule.
            #[test]
            fn accepted_viewports_are_bounded(
                bottom_left in proptest::option::of(lat_long_text()),
                top_right in proptest::option::of(lat_long_text()),
                zoom in proptest::option::of(prop_oneof![number_text(), (8u8..=18).prop_map(|z| z.to_string())]),
            ) {
                if let Ok(v) = viewport(bottom_left.as_deref(), top_right.as_deref(), zoom.as_deref()) {
                    prop_assert!((8.0..=18.0).contains(&v.zoom));
                    let finite = [v.south, v.west, v.north, v.east].iter().all(|c| c.is_finite());
                    if finite {
                        prop_assert!(v.south <= v.north && v.west <= v.east);
                        prop_assert!(coordinates::is_bbox_small_enough(v.south, v.west, v.north, v.east, v.zoom));
                        if v.zoom.fract() == 0.0 {
                            let range = TileRange::of_viewport((v.west, v.south), (v.east, v.north), v.zoom as u8)
                                .expect("finite corners");
                            prop_assert!(range.count() <= MAX_VIEWPORT_TILES);
                        }
                    }
                }
            }

            #[test]
            fn coordinate_strings_never_fail(text in lat_long_text()) {
                if coordinates::is_lat_long(&text) {
                    let _ = coordinates::parse_lat_long(&text);
                }
                let _ = js_number(&text);
            }
        }
    }

    #[test]
    fn paging_defaults_and_violations() {
        let mut v = Violations::default();
        assert_eq!(Paging::parse(None, None, &mut v), Paging { page: 0, per_page: 25 });
        assert_eq!(
            Paging::parse(Some(""), Some("10"), &mut v),
            Paging { page: 0, per_page: 10 }
        );
        assert!(v.is_empty());
        Paging::parse(Some("-1"), Some("51"), &mut v);
        Paging::parse(Some("x"), Some("0"), &mut v);
        let details = serde_json::to_value(&v.0).unwrap();
        assert_eq!(details[0]["constraint"], "min");
        assert_eq!(details[1]["constraint"], "max");
        assert_eq!(details[1]["message"], "perPage must not be greater than 50");
        assert_eq!(details[2]["property"], "page");
        assert_eq!(details[3]["message"], "perPage must not be less than 1");
        let pages = |page, per_page, total| super::super::contract::PageInfo::new(&Paging { page, per_page }, total);
        assert_eq!(pages(2, 10, 21).total_pages, 3);
        assert_eq!(pages(0, 10, 0).total_pages, 0);
        assert_eq!(
            Paging {
                page: u64::MAX,
                per_page: 50
            }
            .offset(),
            usize::MAX
        );
    }
}

/// Coordinate validation (spec 2.4/2.5): class-validator's `isLatitude`,
/// `isLongitude` (numbers, checked on their decimal string form) and
/// `isLatLong` ("lat,lng" strings).
pub mod coordinates {
    use regex::Regex;
    use std::sync::OnceLock;

    /// class-validator's latitude part of `isLatLong` (and of `isLatitude`),
    /// without anchors. Digits are `[0-9]`: JavaScript's `\d` is ASCII only,
    /// Rust's (and Python's) would admit other scripts' digits, which
    /// `Number()` then cannot read.
    pub const LATITUDE: &str = r"\(?[+-]?(90(\.0+)?|[1-8]?[0-9](\.[0-9]+)?)";
    /// The longitude part, likewise.
    pub const LONGITUDE: &str = r"\s?[+-]?(180(\.0+)?|1[0-7][0-9](\.[0-9]+)?|[0-9]{1,2}(\.[0-9]+)?)\)?";

    /// A "lat,lng" string as the API documents it (the two parts above).
    pub fn lat_long_pattern() -> String {
        format!("^{LATITUDE},{LONGITUDE}$")
    }

    fn latitude_pattern() -> &'static Regex {
        static RE: OnceLock<Regex> = OnceLock::new();
        RE.get_or_init(|| Regex::new(&format!("^{LATITUDE}$")).expect("valid"))
    }

    fn longitude_pattern() -> &'static Regex {
        static RE: OnceLock<Regex> = OnceLock::new();
        RE.get_or_init(|| Regex::new(&format!("^{LONGITUDE}$")).expect("valid"))
    }

    /// JavaScript's `String(number)`: plain decimal for 1e-6 ≤ |x| < 1e21,
    /// exponent notation otherwise (which the patterns then reject, bug 23).
    fn js_decimal(x: f64) -> String {
        if x == 0.0 {
            return "0".into();
        }
        if x.abs() < 1e-6 || x.abs() >= 1e21 {
            return format!("{x:e}");
        }
        let s = format!("{x}");
        s
    }

    pub fn is_latitude_number(x: f64) -> bool {
        x.is_finite() && latitude_pattern().is_match(&js_decimal(x)) && (-90.0..=90.0).contains(&x)
    }

    pub fn is_longitude_number(x: f64) -> bool {
        x.is_finite() && longitude_pattern().is_match(&js_decimal(x)) && (-180.0..=180.0).contains(&x)
    }

    /// `isLatLong`: the first two comma parts match the patterns; a "(" on
    /// one side needs the ")" on the other.
    pub fn is_lat_long(s: &str) -> bool {
        let parts: Vec<&str> = s.split(',').collect();
        if parts.len() < 2 {
            return false;
        }
        let (lat, lng) = (parts[0], parts[1]);
        if lat.starts_with('(') != lng.ends_with(')') {
            return false;
        }
        latitude_pattern().is_match(lat) && longitude_pattern().is_match(lng)
    }

    /// `[lat, lng]` of a valid "lat,lng" string (a parenthesised part gives NaN, as in the original).
    pub fn parse_lat_long(s: &str) -> (f64, f64) {
        let mut parts = s.split(',').map(super::js_number);
        (parts.next().unwrap_or(f64::NAN), parts.next().unwrap_or(f64::NAN))
    }

    /// `IsBBoxValid`: each edge at most `5 × 2^(18 − zoom)` km.
    pub fn is_bbox_small_enough(south: f64, west: f64, north: f64, east: f64, zoom: f64) -> bool {
        let max_edge_km = 5.0 * 2f64.powf(18.0 - zoom);
        let ref_lat = north.abs().min(south.abs()).to_radians();
        let width = (east - west) * 111.32 * ref_lat.cos();
        let height = (north - south) * 111.32;
        // NaN comparisons are false, so NaN extents pass, as in the original.
        !(width > max_edge_km || height > max_edge_km)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn numbers_as_class_validator_checks_them() {
            assert!(is_latitude_number(49.0092));
            assert!(is_latitude_number(-90.0));
            assert!(!is_latitude_number(90.5));
            assert!(!is_latitude_number(1e-7), "exponent form is rejected (bug 23)");
            assert!(is_longitude_number(8.40395));
            assert!(is_longitude_number(-180.0));
            assert!(!is_longitude_number(180.1));
            assert!(!is_longitude_number(f64::NAN));
        }

        #[test]
        fn lat_long_strings() {
            assert!(is_lat_long("49.0,8.4"));
            assert!(is_lat_long("49.0, 8.4"));
            assert!(is_lat_long("(49.0,8.4)"));
            assert!(!is_lat_long("(49.0,8.4"));
            assert!(!is_lat_long("49.0"));
            assert!(!is_lat_long("91,8"));
            assert!(!is_lat_long("49,181"));
            assert!(!is_lat_long("٤٩,8"), "only ASCII digits, as in JavaScript");
            let documented = Regex::new(&lat_long_pattern()).unwrap();
            for s in ["49.0,8.4", "(49.0, 8.4)", "-90,180", "91,8", "49,181", "٤٩,8"] {
                assert_eq!(documented.is_match(s), is_lat_long(s), "{s}");
            }
            assert_eq!(parse_lat_long("49.5,8.25"), (49.5, 8.25));
            assert!(parse_lat_long("(49.5,8.25)").0.is_nan());
        }

        #[test]
        fn bbox_size_per_zoom() {
            // zoom 18: 5 km edges; 0.04° of latitude is ~4.45 km, 0.05° ~5.57 km.
            assert!(is_bbox_small_enough(49.0, 8.4, 49.04, 8.44, 18.0));
            assert!(!is_bbox_small_enough(49.0, 8.4, 49.05, 8.41, 18.0));
            assert!(is_bbox_small_enough(49.0, 8.4, 49.05, 8.41, 17.0));
            assert!(is_bbox_small_enough(40.0, 0.0, 80.0, 40.0, 8.0), "5120 km at zoom 8");
            assert!(is_bbox_small_enough(49.0, 9.0, 48.0, 8.0, 18.0), "inverted boxes pass");
        }
    }
}
