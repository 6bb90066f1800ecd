//! The `bbox` filter value (spec 8.6): `minLng,minLat,maxLng,maxLat`,
//! longitude first (unlike the `lat,lng` query parameters of `/cvms/within`).

use super::js::js_number;

/// A box MongoDB's `$box` can express: bottom-left strictly below and left of
/// top-right, so it never crosses the antimeridian.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub min_lng: f64,
    pub min_lat: f64,
    pub max_lng: f64,
    pub max_lat: f64,
}

impl BoundingBox {
    /// Whether a point lies inside the box, edges included (as `$geoWithin`
    /// with `$box` treats them).
    pub fn contains(&self, longitude: f64, latitude: f64) -> bool {
        (self.min_lng..=self.max_lng).contains(&longitude) && (self.min_lat..=self.max_lat).contains(&latitude)
    }
}

/// Finite and within [−180, 180].
pub fn is_valid_longitude(value: f64) -> bool {
    value.is_finite() && (-180.0..=180.0).contains(&value)
}

/// Finite and within [−90, 90].
pub fn is_valid_latitude(value: f64) -> bool {
    value.is_finite() && (-90.0..=90.0).contains(&value)
}

/// Splits on `,` and converts every part with JavaScript `Number` (so
/// surrounding whitespace is fine and an empty part is 0). `None` unless there
/// are exactly four finite parts, both longitudes and latitudes are in range
/// and the box has a positive width and height.
pub fn parse_bounding_box(text: &str) -> Option<BoundingBox> {
    let parts: Vec<f64> = text.split(',').map(js_number).collect();
    let [min_lng, min_lat, max_lng, max_lat] = parts[..] else {
        return None;
    };
    let in_range = is_valid_longitude(min_lng)
        && is_valid_longitude(max_lng)
        && is_valid_latitude(min_lat)
        && is_valid_latitude(max_lat);
    (in_range && min_lng < max_lng && min_lat < max_lat).then_some(BoundingBox {
        min_lng,
        min_lat,
        max_lng,
        max_lat,
    })
}

/// Ports of the original's `test/lib/bbox.spec.ts` (spec 17.10).
#[cfg(test)]
mod tests {
    use super::*;

    fn bbox(min_lng: f64, min_lat: f64, max_lng: f64, max_lat: f64) -> Option<BoundingBox> {
        Some(BoundingBox {
            min_lng,
            min_lat,
            max_lng,
            max_lat,
        })
    }

    #[test]
    fn longitude_range() {
        for ok in [0.0, 180.0, -180.0, 8.4037] {
            assert!(is_valid_longitude(ok), "{ok}");
        }
        for bad in [180.1, -180.1, 999.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(!is_valid_longitude(bad), "{bad}");
        }
    }

    #[test]
    fn latitude_range() {
        for ok in [0.0, 90.0, -90.0, 49.0069] {
            assert!(is_valid_latitude(ok), "{ok}");
        }
        for bad in [90.1, -90.1, 999.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(!is_valid_latitude(bad), "{bad}");
        }
    }

    #[test]
    fn parses_a_well_formed_box_the_world_and_padded_numbers() {
        assert_eq!(parse_bounding_box("8.0,48.0,9.0,49.0"), bbox(8.0, 48.0, 9.0, 49.0));
        assert_eq!(parse_bounding_box("-180,-90,180,90"), bbox(-180.0, -90.0, 180.0, 90.0));
        assert_eq!(
            parse_bounding_box(" 8.0 , 48.0 , 9.0 , 49.0 "),
            bbox(8.0, 48.0, 9.0, 49.0)
        );
    }

    #[test]
    fn rejects_wrong_arity() {
        for text in ["", "8.0", "8.0,48.0", "8.0,48.0,9.0", "8.0,48.0,9.0,49.0,50.0"] {
            assert_eq!(parse_bounding_box(text), None, "{text:?}");
        }
    }

    #[test]
    fn rejects_non_numeric_and_non_finite_parts() {
        // The trailing empty part is Number('') = 0, below minLat.
        for text in [
            "a,b,c,d",
            "8.0,48.0,9.0,north",
            "8.0,48.0,9.0,",
            "Infinity,48.0,9.0,49.0",
        ] {
            assert_eq!(parse_bounding_box(text), None, "{text:?}");
        }
    }

    #[test]
    fn rejects_out_of_range_coordinates() {
        for text in [
            "-181,48.0,9.0,49.0",
            "8.0,48.0,181,49.0",
            "8.0,-91,9.0,49.0",
            "8.0,48.0,9.0,91",
        ] {
            assert_eq!(parse_bounding_box(text), None, "{text:?}");
        }
    }

    #[test]
    fn rejects_reversed_degenerate_and_antimeridian_boxes() {
        for text in [
            "9.0,48.0,8.0,49.0",
            "8.0,49.0,9.0,48.0",
            "9.0,49.0,8.0,48.0",
            "8.0,48.0,8.0,49.0",
            "8.0,48.0,9.0,48.0",
            "8.0,48.0,8.0,48.0",
            "170,48.0,-170,49.0",
        ] {
            assert_eq!(parse_bounding_box(text), None, "{text:?}");
        }
    }

    #[test]
    fn containment_includes_the_edges() {
        let b = parse_bounding_box("8,48,9,49").unwrap();
        assert!(b.contains(8.5, 48.5));
        assert!(b.contains(8.0, 48.0) && b.contains(9.0, 49.0));
        assert!(!b.contains(9.0001, 48.5));
        assert!(!b.contains(8.5, 47.9999));
    }
}
